"""Export of episodes: one interaction record per handoff and per bot-only episode.

The per-conversation export (`handoff/export.py`) stays as it is; this kind (`kind=episodes`)
has one row per episode started in the range: what was asked (the episode's nature of
inquiry), how it ended (answered, helped yes/no, handed off, abandoned) and, for a handoff,
its times, the wrap-up and the rating. Read in keyset pages by episode id, each page in a
short session of its own, like the conversations' export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.store.models import (
    Contact,
    Conversation,
    Episode,
    Handoff,
    Rating,
    RatingStatus,
    Rep,
    WrapUp,
)
from handoff.export_pages import PAGE_SIZE, keyset_records, plain_value

EPISODE_FIELDS = (
    "episode_id",
    "conversation_id",
    "channel",
    "customer_name",
    "customer_address",
    "customer_phone",
    "started_at",
    "last_activity_at",
    "closed_at",
    "nature_of_inquiry",
    "outcome",
    "helped",
    "ended_on_fallback",
    "came_back_at",
    "handoff_reason",
    "priority",
    "handoff_requested_at",
    "due_at",
    "first_response_at",
    "first_response_seconds",
    "resolved_at",
    "rep",
    "wrap_up_nature_of_inquiry",
    "actions_taken",
    "follow_up_required",
    "follow_up_due",
    "follow_up_owner",
    "follow_up_done_at",
    "rating",
)


async def episode_records(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[dict[str, Any]]:
    """Every episode started in [since, until), oldest id first, as a flat record."""

    async def episodes(session: AsyncSession, after: int, size: int) -> list[dict[str, Any]]:
        return await _page(session, after=after, since=since, until=until, size=size)

    async for record in keyset_records(session_factory, episodes, "episode_id", page_size):
        yield record


async def _page(
    session: AsyncSession,
    *,
    after: int,
    since: datetime | None,
    until: datetime | None,
    size: int,
) -> list[dict[str, Any]]:
    rep = aliased(Rep)
    owner = aliased(Rep)
    query = (
        select(Episode, Conversation, Contact, Handoff, WrapUp, rep.username, owner.username)
        .join(Conversation, Conversation.id == Episode.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(
            Handoff,
            and_(
                Handoff.conversation_id == Episode.conversation_id,
                Handoff.requested_at == Episode.handoff_requested_at,
            ),
        )
        .outerjoin(WrapUp, WrapUp.id == Episode.wrap_up_id)
        .outerjoin(rep, rep.id == WrapUp.rep_id)
        .outerjoin(owner, owner.id == WrapUp.follow_up_owner_id)
        .where(Episode.id > after)
        .order_by(Episode.id)
        .limit(size)
    )
    if since is not None:
        query = query.where(Episode.started_at >= since)
    if until is not None:
        query = query.where(Episode.started_at < until)
    rows = (await session.execute(query)).all()
    wrap_ids = [w.id for _, _, _, _, w, _, _ in rows if w is not None]
    ratings: dict[int, int | None] = {}
    if wrap_ids:
        ratings = {
            wrap_up_id: score
            for wrap_up_id, score in await session.execute(
                select(Rating.wrap_up_id, Rating.score).where(
                    Rating.wrap_up_id.in_(wrap_ids), Rating.status == RatingStatus.RATED
                )
            )
        }
    out = []
    for episode, conversation, contact, h, w, rep_name, owner_name in rows:
        first = h.first_response_at if h else None
        record = {
            "episode_id": episode.id,
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "customer_name": contact.display_name,
            "customer_address": conversation.shown_address,
            "customer_phone": contact.phone,
            "started_at": episode.started_at,
            "last_activity_at": episode.last_activity_at,
            "closed_at": episode.closed_at,
            "nature_of_inquiry": episode.nature_of_inquiry,
            "outcome": episode.outcome,
            "helped": episode.helped,
            "ended_on_fallback": episode.ended_on_fallback,
            "came_back_at": episode.came_back_at,
            "handoff_reason": episode.handoff_reason,
            "priority": h.priority if h else None,
            "handoff_requested_at": episode.handoff_requested_at,
            "due_at": h.due_at if h else None,
            "first_response_at": first,
            "first_response_seconds": (
                round((first - h.requested_at).total_seconds()) if h and first else None
            ),
            "resolved_at": h.resolved_at if h else None,
            "rep": rep_name,
            "wrap_up_nature_of_inquiry": w.nature_of_inquiry if w else None,
            "actions_taken": w.actions_taken if w else None,
            "follow_up_required": w.follow_up_required if w else None,
            "follow_up_due": w.follow_up_due if w else None,
            "follow_up_owner": owner_name,
            "follow_up_done_at": w.follow_up_done_at if w else None,
            "rating": ratings.get(w.id) if w else None,
        }
        out.append({k: plain_value(v) for k, v in record.items()})
    return out
