"""Claiming under concurrency, on SQLite and PostgreSQL: no conversation has two owners."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.db import create_engine, create_session_factory
from bot.store.models import AuditEvent, Conversation, ConversationState, Rep, Role, utcnow
from handoff.errors import Conflict, NotAllowed
from handoff.queue import claim, claim_next
from tests.handoff.factories import make_queued, make_rep

S = ConversationState


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]

    async def reps(self, count: int, role: Role = Role.REP) -> list[Rep]:
        async with self.sessions() as session:
            return [await make_rep(session, f"{role}-{i}", role) for i in range(count)]

    async def queue(self, count: int, **kwargs: object) -> list[int]:
        async with self.sessions() as session:
            return [
                (await make_queued(session, address=f"customer-{i}", **kwargs)).id  # type: ignore[arg-type]
                for i in range(count)
            ]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    yield Store(create_session_factory(engine))
    await engine.dispose()


async def _claims_per_conversation(store: Store) -> Counter[int]:
    async with store.sessions() as session:
        rows = await session.scalars(
            select(AuditEvent.conversation_id).where(AuditEvent.to_state == S.ASSIGNED)
        )
        return Counter(rows)


async def test_twenty_reps_taking_next_from_fifty_each_get_their_own(store: Store) -> None:
    reps = await store.reps(20)
    queued = await store.queue(50)

    async def rep_works(rep: Rep) -> list[int]:
        taken: list[int] = []
        while True:
            async with store.sessions() as session:  # each claimer its own session
                conversation = await claim_next(session=session, rep=rep, tier=1)
            if conversation is None:
                return taken
            taken.append(conversation.id)

    results = await asyncio.gather(*(rep_works(rep) for rep in reps))
    taken = [cid for batch in results for cid in batch]
    assert sorted(taken) == sorted(queued)  # every one claimed, none twice
    claims = await _claims_per_conversation(store)
    assert set(claims) == set(queued) and set(claims.values()) == {1}
    async with store.sessions() as session:
        rows = await session.execute(select(Conversation.id, Conversation.assigned_rep_id))
        owners = {conversation_id: rep_id for conversation_id, rep_id in rows}
    by_rep = {rep.id: set(batch) for rep, batch in zip(reps, results, strict=True)}
    for rep_id, conversation_ids in by_rep.items():
        assert all(owners[cid] == rep_id for cid in conversation_ids)
    assert sum(1 for batch in results if batch) > 1  # the work really was shared


async def test_many_reps_claiming_the_same_conversation_one_wins(store: Store) -> None:
    reps = await store.reps(20)
    [conversation_id] = await store.queue(1)

    async def try_claim(rep: Rep) -> bool:
        async with store.sessions() as session:
            try:
                await claim(session=session, conversation_id=conversation_id, rep=rep)
            except Conflict:
                return False
            return True

    outcomes = await asyncio.gather(*(try_claim(rep) for rep in reps))
    assert outcomes.count(True) == 1
    assert (await _claims_per_conversation(store))[conversation_id] == 1
    winner = reps[outcomes.index(True)]
    async with store.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.assigned_rep_id == winner.id and conversation.state == S.ASSIGNED


async def test_next_is_the_highest_priority_then_the_earliest_due(store: Store) -> None:
    [rep] = await store.reps(1)
    now = utcnow()
    async with store.sessions() as session:
        normal_old = await make_queued(
            session, address="a", priority="normal", now=now - timedelta(hours=3)
        )
        normal_new = await make_queued(session, address="b", priority="normal", now=now)
        urgent = await make_queued(session, address="c", priority="urgent", now=now)
        high = await make_queued(session, address="d", priority="high", now=now)
    order = []
    for _ in range(4):
        async with store.sessions() as session:
            taken = await claim_next(session=session, rep=rep, tier=1)
            assert taken is not None
            order.append(taken.id)
    assert order == [urgent.id, high.id, normal_old.id, normal_new.id]
    async with store.sessions() as session:
        assert await claim_next(session=session, rep=rep, tier=1) is None


async def test_a_rep_cannot_take_from_the_supervisors_tier(store: Store) -> None:
    [rep] = await store.reps(1)
    async with store.sessions() as session:
        with pytest.raises(NotAllowed):
            await claim_next(session=session, rep=rep, tier=2)
