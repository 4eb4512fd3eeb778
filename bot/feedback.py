"""Customer feedback: after a resolution the customer is asked to rate the help from 1 to 5.

The question is one system message with five buttons whose payloads are "1".."5" (web chat shows
buttons, Telegram inline buttons, SMS and WhatsApp numbered options). While a rating is pending,
the customer's next message is either the rating (a digit 1-5, typed or chosen) or something
else, which drops the question and goes to the bot as usual. The question, its buttons' titles
and the thanks are in the conversation's language (locales/system_texts.yml).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import system_texts
from bot.messages import Button, Reply, SenderKind
from bot.store.models import Rating, RatingStatus
from bot.system_texts import TextKey

_LABELS = {
    1: TextKey.RATING_1_BUTTON,
    2: TextKey.RATING_2_BUTTON,
    3: TextKey.RATING_3_BUTTON,
    4: TextKey.RATING_4_BUTTON,
    5: TextKey.RATING_5_BUTTON,
}
_SCORE = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def rating_question(language: str | None = None) -> Reply:
    """The question with its five buttons, in `language` (the payloads are "1".."5" in all)."""
    return Reply(
        text=system_texts.text(TextKey.RATING_QUESTION, language),
        sender_kind=SenderKind.SYSTEM,
        buttons=tuple(
            Button(title=system_texts.text(_LABELS[n], language), payload=str(n))
            for n in range(1, 6)
        ),
    )


def thanks_text(score: int, language: str | None = None) -> str:
    return system_texts.text(TextKey.RATING_THANKS, language, score=score)


def parse_score(said: str) -> int | None:
    """The rating in a customer's message ("4", " 4. "), or None when it is not one."""
    found = _SCORE.match(said)
    return int(found.group(1)) if found else None


async def ask_for_rating(
    session: AsyncSession, *, conversation_id: int, wrap_up_id: int, rep_id: int, now: datetime
) -> Rating:
    """Record that the customer is being asked (caller commits, then sends `rating_question`)."""
    # Only the latest question can be answered.
    await session.execute(
        update(Rating)
        .where(Rating.conversation_id == conversation_id, Rating.status == RatingStatus.PENDING)
        .values(status=RatingStatus.SKIPPED, answered_at=now)
    )
    rating = Rating(
        conversation_id=conversation_id,
        wrap_up_id=wrap_up_id,
        rep_id=rep_id,
        status=RatingStatus.PENDING,
        asked_at=now,
    )
    session.add(rating)
    return rating


async def take_rating(
    session: AsyncSession,
    *,
    conversation_id: int,
    said: str,
    now: datetime,
    language: str | None = None,
) -> Reply | None:
    """Store `said` as the pending rating and return the thanks; None when it is not a rating.

    A message that is not a rating drops the pending question (caller commits either way).
    """
    pending = await session.scalar(
        select(Rating)
        .where(Rating.conversation_id == conversation_id, Rating.status == RatingStatus.PENDING)
        .order_by(Rating.id.desc())
        .limit(1)
    )
    if pending is None:
        return None
    pending.answered_at = now
    score = parse_score(said)
    if score is None:
        pending.status = RatingStatus.SKIPPED
        return None
    pending.status = RatingStatus.RATED
    pending.score = score
    return Reply(text=thanks_text(score, language), sender_kind=SenderKind.SYSTEM)
