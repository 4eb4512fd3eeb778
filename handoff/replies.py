"""A rep's replies (sent on the customer's channel) and private notes (never sent)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Attachment, Reply, SenderKind
from bot.outbox import NoSender
from bot.privacy import mask_sensitive
from bot.replies import ReplyService
from bot.store.models import (
    Conversation,
    ConversationState,
    Delivery,
    DeliveryStatus,
    Note,
    Rep,
    utcnow,
)
from bot.text import clean_customer_text
from handoff.errors import ChannelUnavailable, Conflict, Invalid, NotFound
from handoff.live import LiveEvent, LiveHub
from handoff.permissions import require_not_others, require_owner
from handoff.queue import committing, current_handoff, lock_conversation
from handoff.schemas import MAX_TEXT_CHARS

logger = logging.getLogger(__name__)


def _text(text: str, what: str) -> str:
    cleaned = clean_customer_text(text)
    if not cleaned:
        raise Invalid(f"The {what} is empty.")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise Invalid(f"Keep the {what} under {MAX_TEXT_CHARS:,} characters.")
    return cleaned


async def send_rep_reply(
    *,
    session: AsyncSession,
    replies: ReplyService,
    conversation_id: int,
    rep: Rep,
    text: str,
    now: datetime | None = None,
    attachment: Attachment | None = None,
) -> int:
    """Send `text` (and `attachment`, a file in the file store) to the customer on their
    channel as `rep`; return the logged message's id.

    The owner check, the message with its outbox rows and, for the first reply of a handoff
    that went out at once, its first response time are one transaction; the reply is sent
    after the commit.
    """
    body = _text(text, "reply")
    now = now or utcnow()
    reply = Reply(
        text=body,
        sender_kind=SenderKind.REP,
        rep_id=rep.id,
        rep_name=rep.display_name,
        attachment=attachment,
    )
    async with committing(session):
        conversation = await lock_conversation(session, conversation_id)
        require_owner(conversation, rep)
        if conversation.state != ConversationState.ASSIGNED:
            raise Conflict("This conversation is not assigned to you any more.")
        try:
            deliveries = await replies.add(session, conversation, [reply], now)
        except NoSender as error:
            logger.error("reply.no_channel conversation_id=%s error=%s", conversation_id, error)
            raise ChannelUnavailable(
                f"Replies cannot be sent on {conversation.channel} from this gateway."
            ) from error
        record = await current_handoff(session, conversation, now)
        # A reply counts once the channel accepted it: here when it went out live (a web chat
        # customer online); otherwise the SLA monitor records it when the outbox has sent it.
        accepted = any(d.status == DeliveryStatus.SENT for d in deliveries)
        if record.first_response_at is None and accepted:
            record.first_response_at = now
            record.first_response_rep_id = rep.id
    await replies.send_claimed(deliveries)
    message_id = replies.added(deliveries, reply)  # consoles, after the send: they show its status
    logger.info(
        "reply.sent conversation_id=%s rep_id=%s message_id=%s",
        conversation_id,
        rep.id,
        message_id,
    )
    return message_id


async def delivery_status(*, session: AsyncSession, message_id: int) -> str | None:
    """The worst status among a message's outbox rows (what the rep most needs to know)."""
    statuses = list(
        await session.scalars(select(Delivery.status).where(Delivery.message_id == message_id))
    )
    return worst_status([str(s) for s in statuses])


# Worst first: one failed part means the customer did not get the whole reply.
_SEVERITY = ["failed", "undelivered", "pending", "sending", "sent", "delivered"]


def worst_status(statuses: list[str]) -> str | None:
    if not statuses:
        return None
    return min(statuses, key=lambda s: _SEVERITY.index(s) if s in _SEVERITY else 0)


async def add_note(
    *,
    session: AsyncSession,
    conversation_id: int,
    rep: Rep,
    text: str,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Note:
    """Keep a private note on the conversation for reps and supervisors."""
    body = _text(text, "note")
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id}.")
    require_not_others(conversation, rep)
    # Reps paste what customers said: a note is exported and must hold no card number.
    note = Note(
        conversation_id=conversation_id,
        rep_id=rep.id,
        text=mask_sensitive(body),
        created_at=now or utcnow(),
    )
    session.add(note)
    await session.commit()
    if live is not None:
        live.publish(LiveEvent("note", conversation_id, {"note_id": note.id}))
    return note
