"""Test data for the human queue: reps, and conversations waiting in the queue."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.escalation import request_handoff
from bot.handoff_reasons import HandoffReason
from bot.lifecycle import Actor
from bot.messages import Channel, Direction, SenderKind
from bot.policy import ResponseTargets
from bot.response_clock import ResponseClock
from bot.store.models import (
    Contact,
    Conversation,
    Delivery,
    DeliveryStatus,
    Message,
    Presence,
    Rep,
    RepLanguage,
    RepTeam,
    Role,
    utcnow,
)
from handoff.passwords import hash_password

PASSWORD = "correct horse battery"
_hash_lock = asyncio.Lock()
_hash: str | None = None


async def password_hash() -> str:
    """One real argon2 hash of PASSWORD, made once per test run (hashing is slow on purpose)."""
    global _hash
    async with _hash_lock:
        if _hash is None:
            _hash = await hash_password(PASSWORD)
    return _hash


async def make_rep(
    session: AsyncSession,
    username: str,
    role: Role = Role.REP,
    *,
    active: bool = True,
    teams: Sequence[str] = (),
    languages: Sequence[str] = (),
    presence: Presence | None = None,
    max_chat: int | None = None,
    max_messaging: int | None = None,
) -> Rep:
    """A person; with `presence` given, at work as of now (seen now)."""
    rep = Rep(
        username=username,
        display_name=username.replace("-", " ").title(),
        role=role,
        password_hash=await password_hash(),
        active=active,
        max_chat=max_chat,
        max_messaging=max_messaging,
    )
    if presence is not None:
        rep.presence = presence
        rep.away_auto = False
        rep.presence_changed_at = rep.last_seen_at = utcnow()
    session.add(rep)
    await session.flush()
    session.add_all(RepTeam(rep_id=rep.id, team=team) for team in teams)
    session.add_all(RepLanguage(rep_id=rep.id, language=language) for language in languages)
    await session.commit()
    return rep


async def make_queued(
    session: AsyncSession,
    *,
    address: str,
    channel: Channel = Channel.WEBCHAT,
    priority: str = "normal",
    reason: str = "customer_request",
    display_name: str | None = None,
    customer_text: str = "I want to talk to a person",
    now: datetime | None = None,
    context: dict[str, Any] | None = None,
    targets: ResponseTargets | None = None,
    team: str | None = None,
    language: str | None = None,
    nature_of_inquiry: str = "order_status",
    clock: ResponseClock | None = None,
) -> Conversation:
    """A conversation the bot handed to the queue, with one customer message (in `language`,
    the conversation's too)."""
    now = now or utcnow()
    contact = Contact(display_name=display_name)
    session.add(contact)
    await session.flush()
    conversation = Conversation(
        contact_id=contact.id,
        channel=channel,
        address=address,
        nature_of_inquiry=nature_of_inquiry,
        language=language,
    )
    session.add(conversation)
    await session.flush()
    session.add(
        Message(
            conversation_id=conversation.id,
            channel=channel,
            direction=Direction.INBOUND,
            sender_kind=SenderKind.CUSTOMER,
            text=customer_text,
            intent="contact_human_agent",
            intent_confidence=0.91,
            language=language,
            created_at=now - timedelta(seconds=1),
        )
    )
    request_handoff(
        session,
        conversation,
        reason=HandoffReason(reason),
        priority=priority,
        context=context
        if context is not None
        else {
            "intent": "contact_human_agent",
            "confidence": 0.91,
            "slots": {"order_number": "CC-482913"},
            "summary": "Customer asked for a person about a late order.",
        },
        actor=Actor.BOT,
        now=now,
        promise_hours=24,
        targets=targets or ResponseTargets.defaults(),
        clock=clock,
    )
    conversation.team = team
    await session.commit()
    return conversation


async def add_rep_reply(
    session: AsyncSession,
    conversation_id: int,
    rep: Rep,
    *,
    written_at: datetime,
    status: DeliveryStatus = DeliveryStatus.SENT,
    accepted_at: datetime | None = None,
    text: str = "Hello, I am looking into it.",
) -> Message:
    """A rep's reply and its outbox row as the outbox leaves them (`accepted_at` when the
    channel took it), without sending anything."""
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    message = Message(
        conversation_id=conversation_id,
        channel=conversation.channel,
        direction=Direction.OUTBOUND,
        sender_kind=SenderKind.REP,
        rep_id=rep.id,
        text=text,
        created_at=written_at,
    )
    session.add(message)
    await session.flush()
    session.add(
        Delivery(
            message_id=message.id,
            conversation_id=conversation_id,
            channel=conversation.channel,
            address=conversation.address,
            body={"text": text},
            status=status,
            accepted_at=accepted_at,
            created_at=written_at,
            updated_at=accepted_at or written_at,
        )
    )
    await session.commit()
    return message


async def add_customer_message(
    session: AsyncSession, conversation_id: int, *, at: datetime, text: str = "Any news?"
) -> Message:
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    message = Message(
        conversation_id=conversation_id,
        channel=conversation.channel,
        direction=Direction.INBOUND,
        sender_kind=SenderKind.CUSTOMER,
        text=text,
        created_at=at,
    )
    session.add(message)
    await session.commit()
    return message
