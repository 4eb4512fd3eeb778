"""Resolving a conversation: the wrap-up record, the bot back in charge, the rating question."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.episodes import record_resolution
from bot.feedback import ask_for_rating, rating_question
from bot.lifecycle import transition
from bot.outbox import NoSender
from bot.privacy import mask_sensitive
from bot.replies import ReplyService
from bot.store.models import ConversationState, Rep, WrapUp, utcnow
from handoff.errors import Conflict, Invalid
from handoff.live import LiveHub, queue_changed
from handoff.permissions import rep_actor, require_owner
from handoff.queue import committing, current_handoff, lock_conversation
from handoff.schemas import WrapUpCreate

logger = logging.getLogger(__name__)


async def resolve(
    *,
    session: AsyncSession,
    replies: ReplyService,
    conversation_id: int,
    rep: Rep,
    wrap_up: WrapUpCreate,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> WrapUp:
    """Close the handoff with its wrap-up; the bot owns the conversation again.

    After the commit the customer is asked to rate the help (1-5) on their channel.
    """
    now = now or utcnow()
    # Both are exported; a rep may copy a customer's card number into them.
    actions = mask_sensitive(wrap_up.actions_taken.strip())
    nature = mask_sensitive(wrap_up.nature_of_inquiry.strip())
    if not actions or not nature:
        raise Invalid("The wrap-up needs the nature of the inquiry and the actions taken.")
    owner_id: int | None = None
    if wrap_up.follow_up_required:
        owner = await session.scalar(
            select(Rep).where(Rep.username == (wrap_up.follow_up_owner or "").strip().lower())
        )
        if owner is None or not owner.active:
            raise Invalid(f"There is no active rep named {wrap_up.follow_up_owner!r} to follow up.")
        owner_id = owner.id
    async with committing(session):
        conversation = await lock_conversation(session, conversation_id)
        require_owner(conversation, rep)
        if conversation.state != ConversationState.ASSIGNED:
            raise Conflict("Only an assigned conversation can be resolved.")
        record = await current_handoff(session, conversation, now)
        record.resolved_at = now
        await session.flush()
        wrap = WrapUp(
            handoff_id=record.id,
            conversation_id=conversation.id,
            rep_id=rep.id,
            nature_of_inquiry=nature,
            actions_taken=actions,
            follow_up_required=wrap_up.follow_up_required,
            follow_up_due=wrap_up.follow_up_due,
            follow_up_owner_id=owner_id,
            created_at=now,
        )
        session.add(wrap)
        await session.flush()
        await record_resolution(
            session,
            conversation,
            wrap_up_id=wrap.id,
            handoff_requested_at=record.requested_at,
            now=now,
        )
        transition(
            session,
            conversation,
            ConversationState.RESOLVED,
            actor=rep_actor(rep),
            reason=f"resolved: {nature}",
            at=now,
        )
        conversation.assigned_rep_id = None
        await ask_for_rating(
            session, conversation_id=conversation.id, wrap_up_id=wrap.id, rep_id=rep.id, now=now
        )
    logger.info(
        "handoff.resolved conversation_id=%s rep_id=%s follow_up=%s",
        conversation.id,
        rep.id,
        wrap.follow_up_required,
    )
    if live is not None:
        live.publish(queue_changed(conversation.id))
    try:
        # Asked in the conversation's language, read with it.
        await replies.send(conversation.id, rating_question)
    except NoSender:
        # The resolution stands; the channel cannot carry the question from this gateway.
        logger.error(
            "feedback.not_asked conversation_id=%s channel=%s",
            conversation.id,
            conversation.channel,
        )
    return wrap
