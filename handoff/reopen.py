"""Carrying out a follow-up: the rep reopens the resolved conversation to write first.

After a resolution the bot owns the conversation; a follow-up ("call back when the refund
lands") needs a person to write to the customer on their channel. Reopening makes the rep its
owner through the one transition function (audited, `resolved`/`bot` → `assigned`) and opens a
handoff record with the reason `follow_up`, so the reply that follows is a rep reply like any
other (owner check, outbox, first response time) and the rep resolves it again with a wrap-up
when done. The follow-up itself is marked done, with a note, by `follow_ups.mark_done`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff_reasons import HandoffReason
from bot.lifecycle import transition
from bot.store.models import Conversation, ConversationState, Priority, Rep, Role, WrapUp, utcnow
from handoff.errors import Conflict, NotAllowed, NotFound
from handoff.live import LiveHub, queue_changed
from handoff.permissions import rep_actor
from handoff.queue import committing, current_handoff, lock_conversation

logger = logging.getLogger(__name__)

# What a follow-up can reopen: a person owns or awaits every other state already.
REOPENABLE = frozenset({ConversationState.RESOLVED, ConversationState.BOT})


def may_carry_out(wrap: WrapUp, rep: Rep) -> bool:
    """The follow-up's owner, or a supervisor."""
    return wrap.follow_up_owner_id == rep.id or rep.role.covers(Role.SUPERVISOR)


async def reopen_for_follow_up(
    *,
    session: AsyncSession,
    wrap_up_id: int,
    rep: Rep,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Make `rep` the owner of the follow-up's conversation again, so they can write to the
    customer; `Conflict` when the follow-up is done or the conversation is with a person."""
    now = now or utcnow()
    wrap = await session.get(WrapUp, wrap_up_id)
    if wrap is None or not wrap.follow_up_required:
        raise NotFound(f"There is no follow-up {wrap_up_id}.")
    if not may_carry_out(wrap, rep):
        raise NotAllowed("Only the follow-up's owner or a supervisor can carry it out.")
    if wrap.follow_up_done_at is not None:
        raise Conflict("This follow-up is already done.")
    async with committing(session):
        conversation = await lock_conversation(session, wrap.conversation_id)
        if conversation.state not in REOPENABLE:
            raise Conflict(
                "A person has this conversation now (it is waiting in a queue or assigned): "
                "open it from there."
            )
        transition(
            session,
            conversation,
            ConversationState.ASSIGNED,
            actor=rep_actor(rep),
            reason=f"reopened for follow-up {wrap.id}",
            at=now,
        )
        conversation.assigned_rep_id = rep.id
        conversation.escalation_reason = HandoffReason.FOLLOW_UP.value
        conversation.priority = Priority.NORMAL
        conversation.priority_rank = Priority.NORMAL.rank
        conversation.tier = 1
        conversation.handoff_requested_at = now
        # The monitor gives the record its window by priority, as for any handoff.
        conversation.due_at = None
        conversation.handoff_context = {
            "summary": f"Follow-up of {wrap.nature_of_inquiry}: {wrap.actions_taken}"[:1000]
        }
        conversation.queue_notice_sent = False
        await current_handoff(session, conversation, now)
    logger.info(
        "follow_up.reopened wrap_up_id=%s conversation_id=%s rep_id=%s",
        wrap.id,
        conversation.id,
        rep.id,
    )
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation
