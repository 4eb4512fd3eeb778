"""Presence: away without a console, back with it, and an away rep's unanswered conversations
going back to the queue after the grace period (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel, Direction, SenderKind
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Message,
    Presence,
    Rep,
    utcnow,
)
from handoff.monitor import SlaMonitor
from handoff.presence import PresenceRules, return_from_away, seen, set_idle_reps_away, set_presence
from handoff.queue import claim
from tests.handoff.factories import make_queued, make_rep

S = ConversationState
RULES = PresenceRules(away_after=timedelta(minutes=10), grace=timedelta(minutes=15))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def _rep(sessions: async_sessionmaker[AsyncSession], rep_id: int) -> Rep:
    async with sessions() as session:
        rep = await session.get(Rep, rep_id)
        assert rep is not None
        return rep


async def _seen_at(sessions: async_sessionmaker[AsyncSession], rep_id: int, at: datetime) -> None:
    async with sessions() as session:
        rep = await session.get(Rep, rep_id)
        assert rep is not None
        rep.last_seen_at = at
        await session.commit()


async def test_a_rep_without_a_console_goes_away_and_comes_back_with_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions() as session:
        ann = await make_rep(session, "ann", presence=Presence.AVAILABLE)
        bob = await make_rep(session, "bob", presence=Presence.BUSY)
        cy = await make_rep(session, "cy", presence=Presence.AVAILABLE)
    await _seen_at(sessions, ann.id, now - timedelta(minutes=11))
    await _seen_at(sessions, bob.id, now - timedelta(minutes=10))
    await _seen_at(sessions, cy.id, now - timedelta(minutes=9))

    assert sorted(await set_idle_reps_away(sessions, rules=RULES, now=now)) == [ann.id, bob.id]
    assert (await _rep(sessions, ann.id)).presence == Presence.AWAY
    assert (await _rep(sessions, bob.id)).presence == Presence.AWAY
    assert (await _rep(sessions, cy.id)).presence == Presence.AVAILABLE
    assert await set_idle_reps_away(sessions, rules=RULES, now=now) == []  # once
    async with sessions() as session:
        reasons = list(await session.scalars(select(AuditEvent.reason).order_by(AuditEvent.id)))
    assert reasons.count("presence of ann (no console)") == 1

    # The console opens again: available again, audited.
    assert await seen(sessions, rep_id=ann.id, now=now + timedelta(minutes=1))
    assert (await _rep(sessions, ann.id)).presence == Presence.AVAILABLE
    assert not await seen(sessions, rep_id=ann.id, now=now + timedelta(minutes=2))


async def test_a_rep_who_chose_away_stays_away_with_the_console_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ann = await make_rep(session, "ann", presence=Presence.AVAILABLE)
        set_presence(
            session, await session.get(Rep, ann.id), Presence.AWAY, actor="rep:1", now=utcnow()
        )  # type: ignore[arg-type]
        await session.commit()
    assert not await seen(sessions, rep_id=ann.id, now=utcnow())
    assert (await _rep(sessions, ann.id)).presence == Presence.AWAY


async def test_a_new_account_is_away_until_its_console_opens(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ann = await make_rep(session, "ann")
    assert (await _rep(sessions, ann.id)).presence == Presence.AWAY
    assert await seen(sessions, rep_id=ann.id, now=utcnow())
    assert (await _rep(sessions, ann.id)).presence == Presence.AVAILABLE


async def _away_since(
    sessions: async_sessionmaker[AsyncSession], rep_id: int, since: datetime
) -> None:
    async with sessions() as session:
        rep = await session.get(Rep, rep_id)
        assert rep is not None
        set_presence(session, rep, Presence.AWAY, actor="rep", now=since)
        await session.commit()


async def _rep_reply(
    sessions: async_sessionmaker[AsyncSession], conversation_id: int, rep_id: int, at: datetime
) -> None:
    async with sessions() as session:
        session.add(
            Message(
                conversation_id=conversation_id,
                channel=Channel.WEBCHAT,
                direction=Direction.OUTBOUND,
                sender_kind=SenderKind.REP,
                rep_id=rep_id,
                text="On it.",
                created_at=at,
            )
        )
        await session.commit()


async def test_an_away_reps_unanswered_conversations_go_back_after_the_grace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions() as session:
        ann = await make_rep(session, "ann", presence=Presence.AVAILABLE)
        bob = await make_rep(session, "bob", presence=Presence.AVAILABLE)
        unanswered = (await make_queued(session, address="a", now=now - timedelta(hours=1))).id
        answered = (await make_queued(session, address="b", now=now - timedelta(hours=1))).id
        bobs = (await make_queued(session, address="c", now=now - timedelta(hours=1))).id
    for conversation_id, rep in ((unanswered, ann), (answered, ann), (bobs, bob)):
        async with sessions() as session:
            await claim(session=session, conversation_id=conversation_id, rep=rep)
    await _rep_reply(sessions, answered, ann.id, now - timedelta(minutes=30))
    await _away_since(sessions, ann.id, now - timedelta(minutes=16))
    await _away_since(sessions, bob.id, now - timedelta(minutes=14))  # within the grace

    assert await return_from_away(sessions, rules=RULES, now=now) == [unanswered]
    assert await return_from_away(sessions, rules=RULES, now=now) == []
    async with sessions() as session:
        states = {
            cid: state
            for cid, state in await session.execute(select(Conversation.id, Conversation.state))
        }
        back = await session.get(Conversation, unanswered)
        trail = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.conversation_id == unanswered)
            )
        )
    assert states == {unanswered: S.QUEUED, answered: S.ASSIGNED, bobs: S.ASSIGNED}
    assert back is not None and back.assigned_rep_id is None
    assert (trail[-1].actor, trail[-1].from_state, trail[-1].to_state) == (
        "system",
        "assigned",
        "queued",
    )
    assert trail[-1].reason == "returned to the queue: ann away, unanswered"

    # A customer who writes again after the rep's reply is waiting for an answer again.
    async with sessions() as session:
        conversation = await session.get(Conversation, answered)
        assert conversation is not None
        conversation.last_customer_message_at = now - timedelta(minutes=20)
        await session.commit()
    assert await return_from_away(sessions, rules=RULES, now=now) == [answered]


async def test_the_monitor_sets_away_and_returns_conversations(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = {"now": utcnow()}
    async with sessions() as session:
        ann = await make_rep(session, "ann", presence=Presence.AVAILABLE)
        conversation_id = (await make_queued(session, address="a")).id
    async with sessions() as session:
        await claim(session=session, conversation_id=conversation_id, rep=ann)
    monitor = SlaMonitor(sessions, clock=lambda: clock["now"], holder="a", presence=RULES)

    clock["now"] += timedelta(minutes=9)
    report = await monitor.tick()
    assert (report.set_away, report.returned) == ([], [])
    clock["now"] += timedelta(minutes=2)  # 11 minutes without a console
    report = await monitor.tick()
    assert (report.set_away, report.returned) == ([ann.id], [])
    clock["now"] += timedelta(minutes=16)  # away past the grace
    report = await monitor.tick()
    assert report.returned == [conversation_id]
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.state == S.QUEUED
