from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import LEGAL_TRANSITIONS, IllegalTransition, transition
from bot.messages import Channel
from bot.store.db import create_engine, create_session_factory
from bot.store.models import AuditEvent, Contact, Conversation, ConversationState

S = ConversationState


@asynccontextmanager
async def _conversation(database_url: str) -> AsyncIterator[tuple[AsyncSession, Conversation]]:
    engine = create_engine(database_url)
    session = create_session_factory(engine)()
    try:
        yield await _new_conversation(session)
    finally:
        await session.close()
        await engine.dispose()


async def _new_conversation(session: AsyncSession) -> tuple[AsyncSession, Conversation]:
    contact = Contact()
    session.add(contact)
    await session.flush()
    conversation = Conversation(contact_id=contact.id, channel=Channel.WEBCHAT, address="s1")
    session.add(conversation)
    await session.flush()
    return session, conversation


async def test_every_legal_move_writes_an_audit_event(database_url: str) -> None:
    path = [S.QUEUED, S.ASSIGNED, S.ESCALATED, S.ASSIGNED, S.RESOLVED, S.BOT]
    async with _conversation(database_url) as (session, conversation):
        for to_state in path:
            transition(session, conversation, to_state, actor="rep:7", reason=f"to {to_state}")
        await session.commit()
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [(e.from_state, e.to_state) for e in events] == list(
        zip([S.BOT, *path[:-1]], path, strict=True)
    )
    assert all(e.actor == "rep:7" and e.created_at is not None for e in events)
    assert conversation.state == S.BOT and conversation.escalated is False


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [(a, b) for a in S for b in S if (a, b) not in LEGAL_TRANSITIONS],
)
async def test_illegal_moves_are_refused(sqlite_url: str, from_state: S, to_state: S) -> None:
    async with _conversation(sqlite_url) as (session, conversation):
        conversation.state = from_state
        with pytest.raises(IllegalTransition):
            transition(session, conversation, to_state, actor="system", reason="test")
    assert conversation.state == from_state


def test_escalation_flag_follows_the_human_states() -> None:
    from bot.lifecycle import HUMAN_STATES

    assert {S.QUEUED, S.ASSIGNED, S.ESCALATED} == HUMAN_STATES
