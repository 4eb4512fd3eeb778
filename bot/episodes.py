"""Episodes: one interaction record per handoff and per bot-only stretch of a conversation.

A conversation lives for ever per address, so "what did the customer ask" belongs to an
episode, not to the conversation. An episode opens with the first message the bot takes after
the last one closed; it ends either
- when a person resolves its handoff (it became a handoff episode when the handoff was asked
  for, and keeps the wrap-up), or
- after a quiet period with no customer message (`EPISODE_QUIET_HOURS`), closed by the SLA
  monitor's periodic job (`close_quiet_episodes`), or by the next turn if that comes first.

What each records is written in the transaction of the turn, feedback or resolution that
caused it. Writes that race across gateway instances are conditional: a turn touches its open
episode with `UPDATE … WHERE closed_at IS NULL` (which also locks the row on PostgreSQL), the
job closes with `UPDATE … WHERE closed_at IS NULL AND last_activity_at <= cutoff`, and a
partial unique index allows one open episode per conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import Conversation, Episode, EpisodeOutcome

# Intents that say nothing about what the customer needs: an episode's nature of inquiry is
# its first intent not in this set.
SMALL_TALK = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "nlu_fallback"}
)
# The assistant did not answer the question: it did not understand it, or it is outside what
# Caricom Connects' support covers. A customer who leaves after one of these was not helped.
FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})


def _bot_outcome() -> ColumnElement[str]:
    """How a bot-only episode ended, from what it recorded (SQL, so one UPDATE closes many)."""
    return case(
        (Episode.ended_on_fallback.is_(True), EpisodeOutcome.ABANDONED.value),
        (Episode.nature_of_inquiry.is_(None), EpisodeOutcome.NO_INQUIRY.value),
        else_=EpisodeOutcome.ANSWERED.value,
    )


def _quiet(now: datetime, quiet: timedelta) -> ColumnElement[bool]:
    return (
        Episode.closed_at.is_(None)
        & Episode.handoff_requested_at.is_(None)
        & (Episode.last_activity_at <= now - quiet)
    )


async def close_quiet_episodes(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, quiet: timedelta
) -> int:
    """Close every bot-only episode with no customer message for `quiet`; how many closed.

    One conditional UPDATE: running it twice, or on two instances at once, closes each
    episode once, and an episode a turn has just touched no longer qualifies.
    """
    async with session_factory() as session, session.begin():
        result = await session.execute(
            update(Episode)
            .where(_quiet(now, quiet))
            .values(closed_at=now, outcome=_bot_outcome())
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Topic:
    """A substantive intent asked by a message: the episode's topic, if it has none yet."""

    intent: str
    at: datetime
    message_id: int


def _active(conversation_id: int, now: datetime, quiet: timedelta) -> ColumnElement[bool]:
    """The conversation's open episode, unless it has been quiet for longer than `quiet`."""
    return (
        (Episode.conversation_id == conversation_id)
        & Episode.closed_at.is_(None)
        & (Episode.handoff_requested_at.is_not(None) | (Episode.last_activity_at > now - quiet))
    )


async def _record_in_open_episode(
    session: AsyncSession,
    conversation: Conversation,
    *,
    now: datetime,
    quiet: timedelta,
    values: dict[str, Any],
    topic: _Topic | None = None,
) -> bool:
    """Write `values` on the conversation's open episode, touched at `now`; on a new one when
    none is open. Returns whether `topic` became the episode's topic (it had none).

    An open episode quiet for longer than `quiet` (the job has not come round yet) is closed
    first, so the new message starts a new episode as it would have a minute later. In the
    usual case (an episode open and active) this is one conditional UPDATE, which also locks the
    row on PostgreSQL; the episode is never loaded.
    """
    changes: dict[str, Any] = {"last_activity_at": now, **values}
    if topic is not None:
        # Each SET sees the row as it was: only an episode without a topic takes this one.
        untopical = Episode.nature_of_inquiry.is_(None)
        changes["nature_of_inquiry"] = func.coalesce(Episode.nature_of_inquiry, topic.intent)
        changes["topic_at"] = case((untopical, topic.at), else_=Episode.topic_at)
        changes["topic_message_id"] = case(
            (untopical, topic.message_id), else_=Episode.topic_message_id
        )
    # Core statements on episodes only: the turn's pending changes to the conversation and the
    # message are flushed once, with its replies, not before each of these.
    with session.no_autoflush:
        touched = (
            await session.execute(
                update(Episode)
                .where(_active(conversation.id, now, quiet))
                .values(changes)
                .returning(Episode.topic_message_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if touched is not None:
            return topic is not None and touched.topic_message_id == topic.message_id
        await session.execute(
            update(Episode)
            .where(Episode.conversation_id == conversation.id, _quiet(now, quiet))
            .values(closed_at=now, outcome=_bot_outcome())
            .execution_options(synchronize_session=False)
        )
        opened: dict[str, Any] = {
            "conversation_id": conversation.id,
            "contact_id": conversation.contact_id,
            "started_at": now,
            "last_activity_at": now,
            "ended_on_fallback": False,
            "outcome": EpisodeOutcome.OPEN,
            **values,
        }
        if topic is not None:
            opened.update(
                nature_of_inquiry=topic.intent, topic_at=topic.at, topic_message_id=topic.message_id
            )
        await session.execute(insert(Episode).values(opened))
    return topic is not None


async def record_bot_turn(
    session: AsyncSession,
    conversation: Conversation,
    *,
    message_id: int,
    intent: str | None,
    now: datetime,
    quiet: timedelta,
    come_back: timedelta,
) -> None:
    """Record a turn the bot answered in the conversation's open episode (caller commits).

    The first substantive intent becomes the episode's nature of inquiry (and the
    conversation's, which shows the latest episode's); a fallback answer is remembered; a
    topic asked again within `come_back` of when the contact first asked it marks that
    earlier episode (on any of the contact's channels) as "came back".
    """
    if intent is None:  # a photo alone: nothing was asked the assistant
        await _record_in_open_episode(session, conversation, now=now, quiet=quiet, values={})
        return
    values = {"last_intent": intent, "ended_on_fallback": intent in FALLBACK_INTENTS}
    if intent in SMALL_TALK:
        await _record_in_open_episode(session, conversation, now=now, quiet=quiet, values=values)
        return
    topic = _Topic(intent=intent, at=now, message_id=message_id)
    took_topic = await _record_in_open_episode(
        session, conversation, now=now, quiet=quiet, values=values, topic=topic
    )
    with session.no_autoflush:
        # This turn's own episode is left out by its topic message.
        await session.execute(
            update(Episode)
            .where(
                Episode.contact_id == conversation.contact_id,
                Episode.nature_of_inquiry == intent,
                Episode.topic_at >= now - come_back,
                Episode.topic_message_id != message_id,
                Episode.came_back_at.is_(None),
            )
            .values(came_back_at=now)
            .execution_options(synchronize_session=False)
        )
    if took_topic:
        conversation.nature_of_inquiry = intent


async def record_handoff(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: str,
    now: datetime,
    quiet: timedelta,
) -> None:
    """The open episode becomes a handoff episode (a new one when none is open)."""
    await _record_in_open_episode(
        session,
        conversation,
        now=now,
        quiet=quiet,
        values={
            "handoff_requested_at": now,
            "handoff_reason": reason,
            "outcome": EpisodeOutcome.HANDED_OFF,
            # A person answers now: whatever the bot said last is not how the episode ended.
            "ended_on_fallback": False,
        },
    )


async def record_feedback(
    session: AsyncSession, *, conversation_id: int, helpful: bool, now: datetime
) -> None:
    """ "Did this help?" answered: stored on the conversation's latest episode (caller commits).

    The buttons stay under the answer, so a late press still counts for the episode it
    most likely belongs to; it does not reopen a closed one.
    """
    latest = (
        select(func.max(Episode.id))
        .where(Episode.conversation_id == conversation_id)
        .scalar_subquery()
    )
    await session.execute(
        update(Episode)
        .where(Episode.id == latest)
        .values(helped=helpful)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Episode)
        .where(Episode.id == latest, Episode.closed_at.is_(None))
        .values(last_activity_at=now)
        .execution_options(synchronize_session=False)
    )


async def record_resolution(
    session: AsyncSession,
    conversation: Conversation,
    *,
    wrap_up_id: int,
    handoff_requested_at: datetime,
    now: datetime,
) -> None:
    """Close the conversation's handoff episode with its wrap-up (caller commits).

    A handoff from before episodes were recorded gets its episode here, so every resolved
    handoff has one.
    """
    result = await session.execute(
        update(Episode)
        .where(
            Episode.conversation_id == conversation.id,
            Episode.closed_at.is_(None),
            Episode.handoff_requested_at.is_not(None),
        )
        .values(closed_at=now, wrap_up_id=wrap_up_id, outcome=EpisodeOutcome.HANDED_OFF)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return
    # No open handoff episode: close any open one first (one open per conversation).
    await session.execute(
        update(Episode)
        .where(Episode.conversation_id == conversation.id, Episode.closed_at.is_(None))
        .values(closed_at=now, outcome=_bot_outcome())
        .execution_options(synchronize_session=False)
    )
    session.add(
        Episode(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            started_at=handoff_requested_at,
            last_activity_at=now,
            nature_of_inquiry=conversation.nature_of_inquiry,
            handoff_requested_at=handoff_requested_at,
            handoff_reason=conversation.escalation_reason,
            wrap_up_id=wrap_up_id,
            ended_on_fallback=False,
            outcome=EpisodeOutcome.HANDED_OFF,
            closed_at=now,
        )
    )
