"""Moving a conversation between people: escalation to tier 2 and reassignment by supervisors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import transition
from bot.privacy import mask_sensitive
from bot.store.models import Conversation, ConversationState, Rep, Role, utcnow
from handoff.errors import Conflict, Invalid, NotFound
from handoff.live import LiveHub, queue_changed
from handoff.permissions import rep_actor, require_owner, require_role
from handoff.queue import assign, committing, lock_conversation

S = ConversationState
MAX_REASON_CHARS = 400


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if len(reason) < 3:
        raise Invalid("Say why (at least a few words).")
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"Keep the reason under {MAX_REASON_CHARS} characters.")
    return reason


async def escalate(
    *,
    session: AsyncSession,
    conversation_id: int,
    rep: Rep,
    reason: str,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Hand an owned tier-1 conversation to the supervisors' queue (tier 2), unassigned."""
    why = mask_sensitive(_reason(reason))
    now = now or utcnow()
    async with committing(session):
        conversation = await lock_conversation(session, conversation_id)
        require_owner(conversation, rep)
        if conversation.state != S.ASSIGNED:
            raise Conflict("Only an assigned conversation can be escalated.")
        if (conversation.tier or 1) >= 2:
            raise Conflict("This conversation is already with the supervisors (tier 2).")
        transition(
            session,
            conversation,
            S.ESCALATED,
            actor=rep_actor(rep),
            reason=f"escalated: {why}",
            at=now,
        )
        conversation.tier = 2
        conversation.assigned_rep_id = None
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation


async def reassign(
    *,
    session: AsyncSession,
    conversation_id: int,
    supervisor: Rep,
    username: str,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Give a waiting or assigned conversation to the named rep (supervisors and admins)."""
    require_role(supervisor, Role.SUPERVISOR)
    now = now or utcnow()
    target = await session.scalar(select(Rep).where(Rep.username == username.strip().lower()))
    if target is None or not target.active:
        raise NotFound(f"There is no active rep named {username!r}.")
    async with committing(session):
        conversation = await lock_conversation(session, conversation_id)
        if conversation.state not in (S.QUEUED, S.ESCALATED, S.ASSIGNED):
            raise Conflict("Only a conversation with the human queue can be reassigned.")
        if conversation.assigned_rep_id == target.id:
            raise Conflict(f"{target.display_name} already owns this conversation.")
        await assign(
            session,
            conversation,
            target,
            actor=rep_actor(supervisor),
            reason=f"reassigned to {target.username}",
            now=now,
        )
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation
