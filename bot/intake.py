"""Intake: every customer message is committed once, before anything else happens.

A vendor delivering the same message twice (same external id on the channel) is stored once;
two first messages racing to create the same contact or conversation both end up in one.
Card numbers and one-time codes are masked here, so nothing downstream ever holds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Direction, InboundMessage, SenderKind
from bot.privacy import mask_sensitive
from bot.store.models import Contact, Conversation, Message, TurnStatus, utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    """A stored customer message."""

    conversation_id: int
    message_id: int


async def store_customer_message(
    session_factory: async_sessionmaker[AsyncSession], inbound: InboundMessage, *, routed: bool
) -> Received | None:
    """Commit one customer message; None when this delivery (its external id) was stored before.

    `routed`: stored as already handled (a STOP or HELP the bot must not see), else pending.
    """
    for attempt in range(3):
        try:
            return await _store(session_factory, inbound, routed=routed)
        except IntegrityError:
            # Either the same delivery arrived twice (unique external id), or two first
            # messages raced to create the same contact or conversation: look and retry.
            if inbound.external_id and await _is_stored(session_factory, inbound):
                logger.info(
                    "inbound.duplicate channel=%s external_id=%s",
                    inbound.channel,
                    inbound.external_id,
                )
                return None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _store(
    session_factory: async_sessionmaker[AsyncSession], inbound: InboundMessage, *, routed: bool
) -> Received:
    now = utcnow()
    async with session_factory() as session, session.begin():
        conversation = await _conversation_for(session, inbound)
        payload: dict[str, Any] = {}
        if inbound.attachments:
            payload["attachments"] = [a.as_dict() for a in inbound.attachments]
        if inbound.button_payload:
            payload["button_payload"] = inbound.button_payload
        if inbound.metadata:
            payload["metadata"] = inbound.metadata
        message = Message(
            conversation_id=conversation.id,
            channel=inbound.channel,
            direction=Direction.INBOUND,
            sender_kind=SenderKind.CUSTOMER,
            text=mask_sensitive(inbound.text),
            payload=payload or None,
            external_id=inbound.external_id,
            turn_status=TurnStatus.DONE if routed else TurnStatus.PENDING,
            created_at=now,
        )
        session.add(message)
        conversation.last_message_at = now
        conversation.last_customer_message_at = now
        await session.flush()
        return Received(conversation_id=conversation.id, message_id=message.id)


async def _conversation_for(session: AsyncSession, inbound: InboundMessage) -> Conversation:
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.channel == inbound.channel, Conversation.address == inbound.address
        )
    )
    if conversation is not None:
        return conversation
    contact = None
    if inbound.phone:
        contact = await session.scalar(select(Contact).where(Contact.phone == inbound.phone))
    if contact is None:
        contact = Contact(display_name=inbound.display_name, phone=inbound.phone)
        session.add(contact)
        await session.flush()
    conversation = Conversation(
        contact_id=contact.id, channel=inbound.channel, address=inbound.address
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def _is_stored(
    session_factory: async_sessionmaker[AsyncSession], inbound: InboundMessage
) -> bool:
    async with session_factory() as session:
        found = await session.scalar(
            select(Message.id).where(
                Message.channel == inbound.channel, Message.external_id == inbound.external_id
            )
        )
        return found is not None
