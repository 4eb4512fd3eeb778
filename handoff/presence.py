"""Presence: whether a rep takes new conversations now, and what happens when they are away.

A rep is available (offered new conversations), busy (at work, none offered) or away. They set
it in the console or the API; the console's live connection (and any API call) says they are
there, and after PRESENCE_AWAY_AFTER_MINUTES without either the monitor sets them away
(`away_auto`, so opening the console again makes them available again). Conversations an away
rep holds and has not answered go back to their queue once the rep has been away for the grace
period (AWAY_GRACE_MINUTES), each move audited: a customer is not left with someone who left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import Actor, transition
from bot.messages import SenderKind
from bot.settings import setting_default
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Message,
    Presence,
    Rep,
)
from handoff.live import LiveEvent, LiveHub
from handoff.queue import lock_conversation

logger = logging.getLogger(__name__)
S = ConversationState
# A live console or an API client refreshes `last_seen_at` at most this often.
SEEN_EVERY = timedelta(seconds=30)


def presence_changed(rep_id: int, presence: Presence) -> LiveEvent:
    """A rep's presence changed: consoles and the auto-assigner look again."""
    return LiveEvent("presence", None, {"rep_id": rep_id, "presence": str(presence)})


@dataclass(frozen=True, slots=True)
class PresenceRules:
    away_after: timedelta = timedelta(minutes=setting_default("PRESENCE_AWAY_AFTER_MINUTES"))
    grace: timedelta = timedelta(minutes=setting_default("AWAY_GRACE_MINUTES"))


def set_presence(
    session: AsyncSession,
    rep: Rep,
    presence: Presence,
    *,
    actor: str,
    now: datetime,
    auto: bool = False,
) -> bool:
    """Set the rep's presence (caller commits); False when it already was that."""
    if rep.presence == presence and rep.away_auto == auto:
        return False
    previous = rep.presence
    rep.presence = presence
    rep.presence_changed_at = now
    rep.away_auto = auto and presence == Presence.AWAY
    if presence != Presence.AWAY:
        rep.last_seen_at = now
    session.add(
        AuditEvent(
            actor=actor,
            from_state=str(previous),
            to_state=str(presence),
            reason=f"presence of {rep.username}" + (" (no console)" if auto else ""),
            created_at=now,
        )
    )
    return True


async def seen(
    session_factory: async_sessionmaker[AsyncSession], *, rep_id: int, now: datetime
) -> bool:
    """The rep is at the console now. True when that made them available again (they had
    been set away for want of a console)."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Rep).where(Rep.id == rep_id).values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        back = await session.execute(
            update(Rep)
            .where(Rep.id == rep_id, Rep.presence == Presence.AWAY, Rep.away_auto.is_(True))
            .values(presence=Presence.AVAILABLE, away_auto=False, presence_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        returned = bool(back.rowcount)  # type: ignore[attr-defined]
        if returned:
            session.add(
                AuditEvent(
                    actor=f"rep:{rep_id}",
                    from_state=str(Presence.AWAY),
                    to_state=str(Presence.AVAILABLE),
                    reason="presence: back at the console",
                    created_at=now,
                )
            )
    return returned


async def note_seen(
    session_factory: async_sessionmaker[AsyncSession],
    live: LiveHub | None,
    *,
    rep_id: int,
    now: datetime,
) -> None:
    """`seen`, and tell consoles and the auto-assigner when the rep became available."""
    if await seen(session_factory, rep_id=rep_id, now=now) and live is not None:
        live.publish(presence_changed(rep_id, Presence.AVAILABLE))


async def set_idle_reps_away(
    session_factory: async_sessionmaker[AsyncSession], *, rules: PresenceRules, now: datetime
) -> list[int]:
    """Set away every rep at work whose console has not been seen for `rules.away_after`."""
    cutoff = now - rules.away_after
    async with session_factory() as session, session.begin():
        idle = list(
            await session.scalars(
                select(Rep)
                .where(
                    Rep.presence != Presence.AWAY,
                    or_(Rep.last_seen_at.is_(None), Rep.last_seen_at <= cutoff),
                )
                .with_for_update()
            )
        )
        for rep in idle:
            set_presence(session, rep, Presence.AWAY, actor=Actor.SYSTEM, now=now, auto=True)
    for rep in idle:
        logger.info("presence.away rep_id=%s reason=no_console", rep.id)
    return [rep.id for rep in idle]


def _unanswered() -> object:
    """The customer's latest message has no person's reply after it (correlated on Conversation)."""
    last_reply = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == Conversation.id, Message.sender_kind == SenderKind.REP)
        .scalar_subquery()
    )
    return or_(
        last_reply.is_(None),
        and_(
            Conversation.last_customer_message_at.is_not(None),
            last_reply < Conversation.last_customer_message_at,
        ),
    )


async def return_from_away(
    session_factory: async_sessionmaker[AsyncSession], *, rules: PresenceRules, now: datetime
) -> list[int]:
    """Put back in their queue the unanswered conversations of reps away for the grace period."""
    cutoff = now - rules.grace
    async with session_factory() as session:
        candidates = list(
            await session.execute(
                select(Conversation.id, Rep.username)
                .join(Rep, Rep.id == Conversation.assigned_rep_id)
                .where(
                    Conversation.state == S.ASSIGNED,
                    Rep.presence == Presence.AWAY,
                    Rep.presence_changed_at <= cutoff,
                    _unanswered(),  # type: ignore[arg-type]
                )
            )
        )
    returned: list[int] = []
    for conversation_id, username in candidates:
        async with session_factory() as session, session.begin():
            conversation = await lock_conversation(session, conversation_id)
            owner = (
                await session.get(Rep, conversation.assigned_rep_id)
                if conversation.assigned_rep_id
                else None
            )
            still = (
                conversation.state == S.ASSIGNED
                and owner is not None
                and owner.presence == Presence.AWAY
                and owner.presence_changed_at is not None
                and owner.presence_changed_at <= cutoff
                and await session.scalar(
                    select(Conversation.id).where(Conversation.id == conversation_id, _unanswered())  # type: ignore[arg-type]
                )
                is not None
            )
            if not still:
                continue  # answered, released or back meanwhile
            back_to = S.ESCALATED if (conversation.tier or 1) >= 2 else S.QUEUED
            transition(
                session,
                conversation,
                back_to,
                actor=Actor.SYSTEM,
                reason=f"returned to the queue: {username} away, unanswered",
                at=now,
            )
            conversation.assigned_rep_id = None
        returned.append(conversation_id)
        logger.info("presence.returned conversation_id=%s", conversation_id)
    return returned
