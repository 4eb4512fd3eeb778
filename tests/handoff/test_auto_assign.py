"""Auto-assignment on SQLite and PostgreSQL: the right rep, never an away or full one, and
never two owners with assigners and reps taking conversations at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertTarget,
    AuditEvent,
    Conversation,
    ConversationState,
    Presence,
    Rep,
    utcnow,
)
from handoff.alerts.raising import AlertRaiser
from handoff.auto_assign import AutoAssigner
from handoff.capacity import Capacity
from handoff.live import InProcessHub
from handoff.packet import queue_items
from handoff.queue import claim_next, preference_of, release
from handoff.routing import DEFAULT_PATH, RoutingTable
from tests.handoff.factories import make_queued, make_rep

S = ConversationState
TABLE = RoutingTable.load(DEFAULT_PATH)
AVAILABLE = Presence.AVAILABLE


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


def _assigner(sessions: async_sessionmaker[AsyncSession], **kwargs: Any) -> AutoAssigner:
    return AutoAssigner(sessions, TABLE, capacity=Capacity(chat=2, messaging=4), **kwargs)


async def _owners(sessions: async_sessionmaker[AsyncSession]) -> dict[int, int | None]:
    async with sessions() as session:
        rows = await session.execute(select(Conversation.id, Conversation.assigned_rep_id))
        return {cid: rep_id for cid, rep_id in rows}


async def _assignments(sessions: async_sessionmaker[AsyncSession]) -> Counter[int]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent.conversation_id).where(AuditEvent.to_state == S.ASSIGNED)
        )
        return Counter(rows)


async def test_a_payments_handoff_goes_to_the_available_payments_rep_with_fewest_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await make_rep(session, "gen", teams=["general"], languages=["en"], presence=AVAILABLE)
        busy = await make_rep(session, "busy", teams=["payments"], presence=Presence.BUSY)
        away = await make_rep(session, "away", teams=["payments"], presence=Presence.AWAY)
        gone = await make_rep(session, "gone", teams=["payments"], presence=AVAILABLE, active=False)
        loaded = await make_rep(session, "loaded", teams=["payments"], presence=AVAILABLE)
        free = await make_rep(session, "free", teams=["payments"], presence=AVAILABLE)
        earlier = await make_queued(session, address="old", team="payments")
    async with sessions() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == earlier.id)
            .values(state=S.ASSIGNED, assigned_rep_id=loaded.id)
        )
        await session.commit()
        payment = await make_queued(session, address="pay", team="payments")

    report = await _assigner(sessions).assign_waiting()

    assert [(o.conversation_id, o.rep_id) for o in report.offers] == [(payment.id, free.id)]
    owners = await _owners(sessions)
    assert owners[payment.id] == free.id
    assert {busy.id, away.id, gone.id}.isdisjoint(owners.values())
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.conversation_id == payment.id, AuditEvent.to_state == S.ASSIGNED
            )
        )
    assert event is not None
    assert (event.actor, event.reason) == ("system", "auto-assigned to free (payments)")


async def test_ties_go_to_the_rep_idle_longest(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with sessions() as session:
        recent = await make_rep(session, "recent", teams=["general"], presence=AVAILABLE)
        idle = await make_rep(session, "idle", teams=["general"], presence=AVAILABLE)
        await session.execute(update(Rep).where(Rep.id == recent.id).values(last_assigned_at=now))
        await session.execute(
            update(Rep).where(Rep.id == idle.id).values(last_assigned_at=now - timedelta(hours=1))
        )
        await session.commit()
        first = await make_queued(session, address="a", priority="high")
        second = await make_queued(session, address="b")
    await _assigner(sessions).assign_waiting()
    owners = await _owners(sessions)
    # The first to serve goes to the longest idle; then both hold one, and the other is idle
    # longer.
    assert (owners[first.id], owners[second.id]) == (idle.id, recent.id)


async def test_no_rep_is_given_more_than_their_limit_per_channel_kind(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ann = await make_rep(
            session, "ann", teams=["general"], presence=AVAILABLE, max_chat=1, max_messaging=2
        )
        chats = [(await make_queued(session, address=f"w{i}")).id for i in range(3)]
        texts = [
            (await make_queued(session, address=f"+1246555010{i}", channel=Channel.SMS)).id
            for i in range(3)
        ]
    await _assigner(sessions).assign_waiting()
    await _assigner(sessions).assign_waiting()
    owners = await _owners(sessions)
    assert sum(owners[c] == ann.id for c in chats) == 1
    assert sum(owners[c] == ann.id for c in texts) == 2
    # Someone else's limits: the default (chat 2).
    async with sessions() as session:
        await make_rep(session, "bob", teams=["general"], presence=AVAILABLE)
    await _assigner(sessions).assign_waiting()
    owners = await _owners(sessions)
    assert [owners[c] is not None for c in chats] == [True, True, True]


async def test_a_team_without_auto_assignment_waits_for_take_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    table = RoutingTable.parse(
        {"teams": {"general": {}, "payments": {"auto_assign": False}}, "default_team": "general"}
    )
    async with sessions() as session:
        await make_rep(session, "ann", teams=["general", "payments"], presence=AVAILABLE)
        payment = await make_queued(session, address="pay", team="payments")
        general = await make_queued(session, address="gen", team="general")
    report = await AutoAssigner(sessions, table).assign_waiting()
    assert [o.conversation_id for o in report.offers] == [general.id]
    assert (await _owners(sessions))[payment.id] is None


async def test_concurrent_assigners_and_reps_taking_next_never_make_two_owners(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        auto = [
            await make_rep(session, f"auto-{i}", teams=["general"], presence=AVAILABLE)
            for i in range(6)
        ]
        manual = [await make_rep(session, f"manual-{i}") for i in range(4)]
        queued = [(await make_queued(session, address=f"c{i}")).id for i in range(40)]
    limit = 2  # web chat, in _assigner's capacity

    async def assign_repeatedly() -> None:
        for _ in range(3):
            await _assigner(sessions).assign_waiting()

    async def take_next(rep: Rep) -> list[int]:
        taken = []
        for _ in range(4):
            async with sessions() as session:
                conversation = await claim_next(session=session, rep=rep, tier=1)
            if conversation is not None:
                taken.append(conversation.id)
        return taken

    await asyncio.gather(
        *(assign_repeatedly() for _ in range(4)), *(take_next(rep) for rep in manual)
    )
    claims = await _assignments(sessions)
    assert set(claims.values()) == {1}, "a conversation was assigned twice"
    owners = await _owners(sessions)
    held = Counter(owner for owner in owners.values() if owner is not None)
    assert all(held[rep.id] == limit for rep in auto), held  # full, never over
    assert sum(held[rep.id] for rep in manual) == 16
    assert sum(1 for c in queued if owners[c] is None) == 40 - 12 - 16


async def test_take_next_prefers_the_reps_team(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions() as session:
        ann = await make_rep(session, "ann", teams=["payments"])
        general = await make_queued(
            session, address="g", team="general", now=now - timedelta(hours=2)
        )
        payment = await make_queued(session, address="p", team="payments", now=now)
    async with sessions() as session:
        prefer = await preference_of(session, ann, TABLE.default_team)
        first = await claim_next(session=session, rep=ann, tier=1, prefer=prefer)
        assert first is not None and first.id == payment.id
    async with sessions() as session:
        second = await claim_next(session=session, rep=ann, tier=1, prefer=prefer)
        assert second is not None and second.id == general.id  # nothing else: take the rest


async def test_a_french_payments_handoff_goes_to_a_french_speaking_payments_rep(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        english = await make_rep(
            session, "english", teams=["payments"], languages=["en"], presence=AVAILABLE
        )
        french = await make_rep(
            session, "french", teams=["payments"], languages=["en", "fr"], presence=AVAILABLE
        )
        # The French speaker already holds one: still theirs, the language comes first.
        held = await make_queued(session, address="held", team="payments", language="en")
        await session.execute(
            update(Conversation)
            .where(Conversation.id == held.id)
            .values(state=S.ASSIGNED, assigned_rep_id=french.id)
        )
        await session.commit()
        payment = await make_queued(session, address="fr", team="payments", language="fr")
        undetermined = await make_queued(session, address="und", team="payments", language="und")
    report = await _assigner(sessions).assign_waiting()
    owners = await _owners(sessions)
    assert owners[payment.id] == french.id
    assert owners[undetermined.id] == english.id  # "und": anyone of the team
    assert report.unserved == []


async def test_a_language_nobody_speaks_is_flagged_once_and_goes_to_the_team(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hub = InProcessHub()
    async with sessions() as session:
        await make_rep(session, "busy", teams=["general"], languages=["en"], presence=Presence.BUSY)
        waiting = await make_queued(session, address="pap", language="pap")
    alerts = AlertRaiser(targets=(AlertTarget.WEBHOOK,))
    async with hub.subscribe() as events:
        report = await _assigner(sessions, live=hub, alerts=alerts).assign_waiting()
        event = await events.next(timeout=1)
    assert report.unserved == [waiting.id]
    # Supervisors are alerted once, by the configured targets, with the language.
    async with sessions() as session:
        [alert] = (await session.scalars(select(Alert))).all()
        [delivery] = (await session.scalars(select(AlertDelivery))).all()
    assert (alert.kind, alert.conversation_id, alert.details) == (
        AlertKind.LANGUAGE_UNSERVED,
        waiting.id,
        {"language": "pap"},
    )
    assert delivery.target == AlertTarget.WEBHOOK
    assert event is not None and (event.kind, event.conversation_id) == ("language", waiting.id)
    assert (await _assigner(sessions, alerts=alerts).assign_waiting()).unserved == []  # once
    async with sessions() as session:
        assert len((await session.scalars(select(Alert))).all()) == 1
    async with sessions() as session:
        flagged = await session.get(Conversation, waiting.id)
        assert flagged is not None and flagged.unserved_language_at is not None
        [item] = await queue_items(session, [flagged])
    assert (item.language, item.language_unserved) == ("pap", True)
    # Someone available of the team takes it rather than leave it waiting.
    async with sessions() as session:
        free = await make_rep(
            session, "free", teams=["general"], languages=["en"], presence=AVAILABLE
        )
    await _assigner(sessions).assign_waiting()
    assert (await _owners(sessions))[waiting.id] == free.id


async def test_take_next_prefers_the_reps_languages_then_their_team(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions() as session:
        ann = await make_rep(session, "ann", teams=["payments"], languages=["es"])
        oldest = await make_queued(
            session, address="a", team="general", language="en", now=now - timedelta(hours=3)
        )
        english_payment = await make_queued(
            session, address="b", team="payments", language="en", now=now - timedelta(hours=2)
        )
        spanish_general = await make_queued(
            session, address="c", team="general", language="es", now=now - timedelta(hours=1)
        )
        spanish_payment = await make_queued(
            session, address="d", team="payments", language="es", now=now
        )
    order = []
    for _ in range(4):
        async with sessions() as session:
            prefer = await preference_of(session, ann, TABLE.default_team)
            taken = await claim_next(session=session, rep=ann, tier=1, prefer=prefer)
            assert taken is not None
            order.append(taken.id)
    assert order == [spanish_payment.id, spanish_general.id, english_payment.id, oldest.id]


async def test_a_conversation_a_rep_gave_back_is_not_offered_to_them_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ann = await make_rep(session, "ann", teams=["general"], presence=AVAILABLE)
        conversation_id = (await make_queued(session, address="a")).id
    await _assigner(sessions).assign_waiting()
    assert (await _owners(sessions))[conversation_id] == ann.id
    async with sessions() as session:
        await release(session=session, conversation_id=conversation_id, rep=ann)
    assert (await _assigner(sessions).assign_waiting()).offers == []
    async with sessions() as session:
        bob = await make_rep(session, "bob", teams=["general"], presence=AVAILABLE)
    await _assigner(sessions).assign_waiting()
    assert (await _owners(sessions))[conversation_id] == bob.id
