"""Intake: every customer message is committed once, before anything else happens.

A vendor delivering the same message twice (same external id on the channel) is stored once;
two first messages racing to create the same contact or conversation both end up in one.
Card numbers and one-time codes are masked here, so nothing downstream ever holds them.

Given a rate limiter, a message is put to the sender's limit once it is known to be new, in the
transaction that stores it: a duplicate delivery, or a store that fails, costs the sender
nothing. Over the limit, it is stored all the same (the customer record is complete and a rep
sees it) but as done, never to be routed, with `{"rate_limited": true}` in its payload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.language_id import Detection, detect_in_worker
from bot.languages import decided_language, message_language
from bot.messages import Channel, Direction, InboundMessage, SenderKind
from bot.privacy import (
    ONE_TIME_CODE_KEY,
    mask_sensitive,
    take_one_time_code,
    visitor_label,
    without_masks,
)
from bot.rate_limit import RateLimiter
from bot.store.models import (
    Contact,
    Conversation,
    ConversationState,
    Message,
    TurnStatus,
    utcnow,
)

logger = logging.getLogger(__name__)

# In a customer message's payload: stored while its sender was over their rate limit, so it was
# not routed (no bot turn, nothing sent back). Reps see the message; reports can count these.
RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Received:
    """A stored customer message."""

    conversation_id: int
    message_id: int
    # Its sender was over their rate limit: stored as done, not to be routed or answered.
    rate_limited: bool = False
    # Stored already claimed for routing by this instance (`claim_for`), with what routing needs.
    claimed: ClaimedTurn | None = None


@dataclass(frozen=True, slots=True)
class ClaimedTurn:
    """A message stored already claimed for routing: what the router needs to route it."""

    text: str
    payload: dict[str, Any]
    state: ConversationState
    channel: Channel
    # The conversation's language with this message (bot/languages.py); None: not decided.
    language: str | None = None
    # Where the customer writes from (a phone number on SMS/WhatsApp, a chat id elsewhere).
    address: str | None = None


async def store_customer_message(
    session_factory: async_sessionmaker[AsyncSession],
    inbound: InboundMessage,
    *,
    routed: bool,
    rate_limiter: RateLimiter | None = None,
    claim_for: timedelta | None = None,
) -> Received | None:
    """Commit one customer message; None when this delivery (its external id) was stored before.

    `routed`: stored as already handled (a STOP or HELP the bot must not see), else pending.
    `rate_limiter`: the sender's limit, asked once the message is known to be new.
    `claim_for`: the caller routes it at once; store it claimed for routing (bot/turn_claims.py)
    with a lease this long, in the same commit, unless an earlier message of the conversation
    is still unrouted (it goes first, by the usual claims).
    """
    allowance = _Allowance(rate_limiter)
    # Masked once, and its language detected before the transaction: no write lock is held
    # while the detector works (in a thread), and a retried store does not detect again.
    masked = mask_sensitive(inbound.text)
    detection = await detect_in_worker(without_masks(masked))
    for attempt in range(3):
        try:
            return await _store(
                session_factory,
                inbound,
                masked=masked,
                detection=detection,
                routed=routed,
                allowance=allowance,
                claim_for=claim_for,
            )
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


class _Allowance:
    """The sender's rate-limit verdict on one message, asked at most once (a store tried again
    must not take a second token)."""

    def __init__(self, limiter: RateLimiter | None) -> None:
        self._limiter = limiter
        self._verdict: bool | None = None

    async def allows(self, inbound: InboundMessage) -> bool:
        if self._limiter is None:
            return True
        if self._verdict is None:
            self._verdict = await self._limiter.allow(inbound.channel, inbound.address)
        return self._verdict


def _expects_code(conversation: Conversation, now: datetime) -> bool:
    until = conversation.code_expected_until
    return until is not None and until > now


async def _store(
    session_factory: async_sessionmaker[AsyncSession],
    inbound: InboundMessage,
    *,
    masked: str,
    detection: Detection | None,
    routed: bool,
    allowance: _Allowance,
    claim_for: timedelta | None = None,
) -> Received:
    now = utcnow()
    async with session_factory() as session, session.begin():
        conversation = await _conversation_for(session, inbound)
        # Every customer message counts, routed or not (a STOP, an edit, one over the rate
        # limit): each is something the customer wrote in their language.
        conversation.language = decided_language(
            conversation.language, detection, inbound.language_hint
        )
        # Set with the language, before the first flush: one UPDATE of the conversation.
        conversation.last_message_at = now
        conversation.last_customer_message_at = now
        payload: dict[str, Any] = {}
        if inbound.attachments:
            payload["attachments"] = [a.as_dict() for a in inbound.attachments]
        if inbound.button_payload:
            payload["button_payload"] = inbound.button_payload
        if inbound.metadata:
            payload["metadata"] = inbound.metadata
        text = masked
        if not routed and _expects_code(conversation, now):
            # The assistant asked for a one-time code: masked in the log like any code, and
            # kept beside the text only until the turn that checks it is done (bot/router.py).
            text, code = take_one_time_code(inbound.text)
            if code is not None:
                payload[ONE_TIME_CODE_KEY] = code
        # Inserted already claimed when the caller routes it at once (`claim_for`): in the
        # usual case, when nothing earlier waits, that costs no statement of its own.
        claiming = claim_for is not None and not routed
        message = Message(
            conversation_id=conversation.id,
            channel=inbound.channel,
            direction=Direction.INBOUND,
            sender_kind=SenderKind.CUSTOMER,
            text=text,
            language=message_language(detection),
            payload=payload or None,
            external_id=inbound.external_id,
            turn_status=_first_turn_status(routed=routed, claiming=claiming),
            turn_lease_until=now + claim_for if claiming and claim_for is not None else None,
            route_attempts=1 if claiming else 0,
            created_at=now,
        )
        session.add(message)
        # Inserted first: a duplicate delivery fails here, on its unique external id, before
        # the limit is asked. The limiter's round trip (to Redis) is then spent in this
        # transaction, with only the new row written: what waits on it is a concurrent delivery
        # of the same message, which then fails as a duplicate (and, on SQLite, other writers).
        await session.flush()
        rate_limited = not await allowance.allows(inbound)
        if rate_limited:
            # Decided before the commit: no turn loop or sweep can ever find it pending.
            message.turn_status = TurnStatus.DONE
            message.turn_lease_until = None
            # Never routed, so a code in it would never be checked: not kept.
            kept = {k: v for k, v in payload.items() if k != ONE_TIME_CODE_KEY}
            message.payload = {**kept, RATE_LIMITED: True}
        claimed: ClaimedTurn | None = None
        if claiming and not rate_limited:
            # Checked with the new row written: on SQLite no other writer can commit until this
            # transaction does, so an earlier message cannot slip in unseen.
            if await _earlier_unrouted(session, conversation.id, message.id):
                # It goes first, by the usual claims; this one waits behind it.
                message.turn_status = TurnStatus.PENDING
                message.turn_lease_until = None
                message.route_attempts = 0
            else:
                claimed = ClaimedTurn(
                    text=message.text,
                    payload=dict(message.payload or {}),
                    state=conversation.state,
                    channel=conversation.channel,
                    language=conversation.language,
                    address=conversation.address,
                )
        await session.flush()
        return Received(
            conversation_id=conversation.id,
            message_id=message.id,
            rate_limited=rate_limited,
            claimed=claimed,
        )


def _first_turn_status(*, routed: bool, claiming: bool) -> TurnStatus:
    if routed:
        return TurnStatus.DONE
    return TurnStatus.ROUTING if claiming else TurnStatus.PENDING


async def _earlier_unrouted(session: AsyncSession, conversation_id: int, message_id: int) -> bool:
    found = await session.scalar(
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.id < message_id,
            Message.turn_status.in_([TurnStatus.PENDING, TurnStatus.ROUTING]),
        )
        .limit(1)
    )
    return found is not None


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
        # A name is free text too: people have put card numbers in their profile names.
        name = mask_sensitive(inbound.display_name) if inbound.display_name else None
        contact = Contact(display_name=name, phone=inbound.phone)
        session.add(contact)
        await session.flush()
    conversation = Conversation(
        contact_id=contact.id,
        channel=inbound.channel,
        address=inbound.address,
        # A web chat address is the session's secret: people see this label instead.
        address_label=visitor_label() if inbound.channel == Channel.WEBCHAT else None,
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
