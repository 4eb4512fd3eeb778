"""Honest containment: what the assistant resolved, counted per episode (bot/episodes.py).

The old figure counts every conversation without a handoff as resolved by the assistant,
including a customer who got a fallback and left, or came back the next day with the same
question. This one counts episodes (one per handoff, one per bot-only stretch) started in the
range, each in exactly one category, the first that applies:

1. `handed_off`: a person took it over;
2. `open`: still going, or closed less than the come-back window after its question was asked
   (too early to say whether the customer comes back);
3. `helped`: the customer said the answer helped (resolved);
4. `abandoned_after_fallback`: the assistant's last answer was a fallback and the customer left
   (unresolved);
5. `came_back_same_topic`: the contact asked about the same topic again within the window, on
   any of their channels (unresolved);
6. `said_not_helped`: the customer said the answer did not help (unresolved);
7. `no_inquiry`: small talk only, nothing asked (in neither);
8. `did_not_come_back`: answered, and no return on the topic within the window (resolved).

The rate is resolved ÷ (resolved + unresolved + handed off): of the settled episodes in
which something was asked, the share the assistant resolved alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Conversation, Episode, EpisodeOutcome

CATEGORIES = (
    "handed_off",
    "open",
    "helped",
    "abandoned_after_fallback",
    "came_back_same_topic",
    "said_not_helped",
    "no_inquiry",
    "did_not_come_back",
)


class AssistantResolution(BaseModel):
    """Episodes started in the range, by what became of them (see the module's docstring)."""

    episodes: int
    come_back_hours: float
    handed_off: int
    open: int
    no_inquiry: int
    resolved: int
    helped: int
    did_not_come_back: int
    unresolved: int
    abandoned_after_fallback: int
    came_back_same_topic: int
    said_not_helped: int
    rate: float | None  # resolved of resolved + unresolved + handed off


async def assistant_resolution(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    channel: str | None,
    now: datetime,
    come_back: timedelta,
) -> AssistantResolution:
    """The figure for episodes started in [since, until), one GROUP BY."""
    category = case(
        (Episode.handoff_requested_at.is_not(None), "handed_off"),
        (Episode.closed_at.is_(None), "open"),
        (Episode.helped.is_(True), "helped"),
        (Episode.outcome == EpisodeOutcome.ABANDONED, "abandoned_after_fallback"),
        (Episode.came_back_at.is_not(None), "came_back_same_topic"),
        (Episode.helped.is_(False), "said_not_helped"),
        (Episode.outcome == EpisodeOutcome.NO_INQUIRY, "no_inquiry"),
        (Episode.topic_at > now - come_back, "open"),
        else_="did_not_come_back",
    ).label("category")
    query = select(category, func.count()).where(
        Episode.started_at >= since, Episode.started_at < until
    )
    if channel is not None:
        query = query.join(Conversation, Conversation.id == Episode.conversation_id).where(
            Conversation.channel == channel
        )
    counts = dict.fromkeys(CATEGORIES, 0)
    for name, n in await session.execute(query.group_by(category)):
        counts[name] = int(n)
    resolved = counts["helped"] + counts["did_not_come_back"]
    unresolved = (
        counts["abandoned_after_fallback"]
        + counts["came_back_same_topic"]
        + counts["said_not_helped"]
    )
    settled = resolved + unresolved + counts["handed_off"]
    return AssistantResolution(
        episodes=sum(counts.values()),
        come_back_hours=come_back.total_seconds() / 3600,
        resolved=resolved,
        unresolved=unresolved,
        rate=round(resolved / settled, 4) if settled else None,
        **counts,
    )
