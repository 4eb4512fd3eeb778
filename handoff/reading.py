"""Who may read a conversation, and the record of every read by a person.

A transcript holds what a customer told us, so reading one is need-to-know: a rep reads what
waits in their tier's queue (to decide whether to take it), what is assigned to them, and what
they handled before (claimed, answered, noted, wrapped up). Tier 2 and everything else (bot-only
conversations, other reps' work) is for supervisors, and admins above them. Every read by a
person is recorded (who, when, through what) in its own transaction, so a refused or failed
request afterwards does not lose it; admins see the record at `GET /api/reads`.

A read is a person opening the conversation, not each refresh of it: the console's live
updates fetch the page's changing parts again and again while it stays open, and recording each
would bury the reads that matter. So a refresh is recorded only when the same person has no
read of that conversation recorded within `REFRESH_COVERED_BY_READ` (a page left open all
day, or parts fetched without the page, still leave a trace).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationRead,
    ConversationState,
    Message,
    Note,
    Rep,
    Role,
    WrapUp,
    utcnow,
)
from handoff.errors import NotAllowed
from handoff.permissions import rep_actor

logger = logging.getLogger(__name__)

# How long a recorded read covers the live refreshes of the page it opened.
REFRESH_COVERED_BY_READ = timedelta(hours=1)


async def handled(session: AsyncSession, *, conversation_id: int, rep: Rep) -> bool:
    """`rep` took part in the conversation: an audit event of theirs, a reply, a note, a wrap-up."""
    found = await session.scalar(
        select(
            or_(
                exists().where(
                    AuditEvent.conversation_id == conversation_id,
                    AuditEvent.actor == rep_actor(rep),
                ),
                exists().where(
                    Message.conversation_id == conversation_id, Message.rep_id == rep.id
                ),
                exists().where(Note.conversation_id == conversation_id, Note.rep_id == rep.id),
                exists().where(WrapUp.conversation_id == conversation_id, WrapUp.rep_id == rep.id),
            )
        )
    )
    return bool(found)


async def may_read(session: AsyncSession, *, conversation: Conversation, rep: Rep) -> bool:
    """Whether `rep` may read `conversation` (see the module's docstring)."""
    if rep.role.covers(Role.SUPERVISOR):
        return True
    if conversation.assigned_rep_id == rep.id:
        return True
    if conversation.state == ConversationState.QUEUED and (conversation.tier or 1) == 1:
        return True
    return await handled(session, conversation_id=conversation.id, rep=rep)


async def require_read(session: AsyncSession, *, conversation: Conversation, rep: Rep) -> None:
    """`NotAllowed` unless `rep` may read `conversation`."""
    if not await may_read(session, conversation=conversation, rep=rep):
        logger.warning(
            "conversation.read_refused conversation_id=%s rep_id=%s", conversation.id, rep.id
        )
        raise NotAllowed(
            "This conversation is not in your queue or assigned to you: a supervisor can open it."
        )


async def record_read(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    conversation_id: int,
    rep: Rep,
    via: str,
    now: datetime | None = None,
) -> None:
    """Record that `rep` read the conversation, committed on its own."""
    async with session_factory() as session, session.begin():
        session.add(
            ConversationRead(
                conversation_id=conversation_id, rep_id=rep.id, via=via, created_at=now or utcnow()
            )
        )


async def record_refresh(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    conversation_id: int,
    rep: Rep,
    via: str,
    now: datetime | None = None,
) -> bool:
    """Record a refresh of an open conversation as a read, unless a read of it by `rep` is
    recorded within `REFRESH_COVERED_BY_READ`; whether one was recorded."""
    now = now or utcnow()
    async with session_factory() as session, session.begin():
        covered = await session.scalar(
            select(
                exists().where(
                    ConversationRead.conversation_id == conversation_id,
                    ConversationRead.rep_id == rep.id,
                    ConversationRead.created_at >= now - REFRESH_COVERED_BY_READ,
                )
            )
        )
        if covered:
            return False
        session.add(
            ConversationRead(
                conversation_id=conversation_id, rep_id=rep.id, via=via, created_at=now
            )
        )
    return True


async def reads(
    session: AsyncSession,
    *,
    conversation_id: int | None = None,
    rep_id: int | None = None,
    limit: int = 100,
) -> list[ConversationRead]:
    """Recorded reads, newest first, optionally of one conversation or by one person."""
    query = select(ConversationRead).order_by(ConversationRead.id.desc()).limit(limit)
    if conversation_id is not None:
        query = query.where(ConversationRead.conversation_id == conversation_id)
    if rep_id is not None:
        query = query.where(ConversationRead.rep_id == rep_id)
    return list(await session.scalars(query))
