"""The SLA monitor with a clock the test moves: at risk, breach, one escalation, restarts, races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.policy import ResponseTargets
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Handoff,
    JobLease,
    Priority,
    Role,
    WrapUp,
)
from handoff.live import InProcessHub, LiveEvent
from handoff.monitor import SLA_JOB, SlaMonitor
from handoff.queue import claim
from handoff.sla import check_open_handoffs
from tests.handoff.conftest import running_desk
from tests.handoff.factories import add_rep_reply, make_queued, make_rep

T0 = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> Clock:
        self.now = T0 + timedelta(**delta)
        return self


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=Clock)
    hub: InProcessHub = field(default_factory=InProcessHub)

    def monitor(self, holder: str = "gateway-a", **kwargs: object) -> SlaMonitor:
        return SlaMonitor(self.sessions, live=self.hub, clock=self.clock, holder=holder, **kwargs)  # type: ignore[arg-type]

    async def queued(self, address: str, priority: str = "normal") -> int:
        async with self.sessions() as session:
            return (await make_queued(session, address=address, priority=priority, now=T0)).id

    async def conversation(self, conversation_id: int) -> Conversation:
        async with self.sessions() as session:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            return found

    async def handoff(self, conversation_id: int) -> Handoff:
        async with self.sessions() as session:
            [record] = (
                await session.scalars(
                    select(Handoff).where(Handoff.conversation_id == conversation_id)
                )
            ).all()
            return record

    async def breach_events(self, conversation_id: int) -> list[AuditEvent]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.conversation_id == conversation_id,
                        AuditEvent.reason == "SLA breached",
                    )
                )
            )


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    yield Store(create_session_factory(engine))
    await engine.dispose()


async def test_an_unanswered_handoff_goes_at_risk_then_breaches_and_escalates_once(
    store: Store,
) -> None:
    conversation_id = await store.queued("customer-1")  # normal: 24 hours
    monitor = store.monitor()

    report = await monitor.tick()  # at once: the record gets its window, nothing is marked
    assert report.ran and report.marks == []
    record = await store.handoff(conversation_id)
    assert record.due_at == T0 + timedelta(hours=24)
    assert record.at_risk_after == T0 + timedelta(hours=18)

    store.clock.at(hours=17, minutes=59)
    assert (await monitor.tick()).marks == []

    store.clock.at(hours=18)
    [mark] = (await monitor.tick()).marks
    assert (mark.kind, mark.conversation_id, mark.escalated) == ("at_risk", conversation_id, False)
    assert (await store.handoff(conversation_id)).at_risk_at == T0 + timedelta(hours=18)
    assert (await store.conversation(conversation_id)).state == ConversationState.QUEUED

    store.clock.at(hours=23, minutes=59)
    assert (await monitor.tick()).marks == []

    store.clock.at(hours=24)
    [mark] = (await monitor.tick()).marks
    assert (mark.kind, mark.escalated) == ("breached", True)
    conversation = await store.conversation(conversation_id)
    assert (conversation.state, conversation.tier, conversation.escalated) == (
        ConversationState.ESCALATED,
        2,
        True,
    )
    [event] = await store.breach_events(conversation_id)
    assert (event.actor, event.from_state, event.to_state) == ("system", "queued", "escalated")
    assert event.created_at == T0 + timedelta(hours=24)

    for hours in (25, 48):
        store.clock.at(hours=hours)
        assert (await monitor.tick()).marks == []
    assert len(await store.breach_events(conversation_id)) == 1


async def test_a_restarted_monitor_neither_loses_nor_repeats_marks(store: Store) -> None:
    urgent = await store.queued("customer-urgent", priority="urgent")  # 1 hour
    normal = await store.queued("customer-normal")
    first = store.monitor("gateway-a")
    await first.tick()
    store.clock.at(minutes=50)  # urgent is at risk
    assert [(m.conversation_id, m.kind) for m in (await first.tick()).marks] == [
        (urgent, "at_risk")
    ]
    # The gateway stops while the urgent window runs out; a new process starts later.
    store.clock.at(hours=2)
    restarted = store.monitor("gateway-a-restarted")
    report = await restarted.tick()
    assert report.ran  # the old lease ran out
    assert [(m.conversation_id, m.kind) for m in report.marks] == [(urgent, "breached")]
    store.clock.at(hours=2, minutes=1)
    again = store.monitor("gateway-a-restarted-twice")
    store.clock.at(hours=3)
    assert (await again.tick()).marks == []
    assert len(await store.breach_events(urgent)) == 1
    assert (await store.conversation(normal)).state == ConversationState.QUEUED


async def test_an_answered_handoff_is_never_marked(store: Store) -> None:
    conversation_id = await store.queued("customer-1")
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
        await claim(session=session, conversation_id=conversation_id, rep=ann, now=T0)
    async with store.sessions() as session:
        # A reply written an hour in, that the channel accepted a minute later.
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=T0 + timedelta(hours=1),
            accepted_at=T0 + timedelta(hours=1, minutes=1),
        )
    monitor = store.monitor()
    for hours in (0, 18, 30):
        store.clock.at(hours=hours)
        assert (await monitor.tick()).marks == []
    conversation = await store.conversation(conversation_id)
    assert (conversation.state, conversation.assigned_rep_id) == (
        ConversationState.ASSIGNED,
        ann.id,
    )


async def test_an_assigned_but_unanswered_handoff_goes_to_the_supervisors(store: Store) -> None:
    conversation_id = await store.queued("customer-1", priority="high")  # 4 hours
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
        await claim(session=session, conversation_id=conversation_id, rep=ann, now=T0)
    store.clock.at(hours=4)
    marks = (await store.monitor().tick()).marks
    assert [(m.kind, m.escalated) for m in marks] == [("at_risk", False), ("breached", True)]
    conversation = await store.conversation(conversation_id)
    assert (conversation.state, conversation.tier, conversation.assigned_rep_id) == (
        ConversationState.ESCALATED,
        2,
        None,
    )
    [event] = await store.breach_events(conversation_id)
    assert event.from_state == "assigned"


async def test_two_monitors_racing_escalate_once(store: Store, database_url: str) -> None:
    ids = [await store.queued(f"customer-{n}", priority="urgent") for n in range(5)]
    other_engine = create_engine(database_url)  # a second gateway instance: its own pool
    try:
        other = SlaMonitor(
            create_session_factory(other_engine), clock=store.clock, holder="gateway-b"
        )
        mine = store.monitor("gateway-a")
        store.clock.at(hours=1)
        reports = await asyncio.gather(mine.tick(), other.tick())
        assert sorted(r.ran for r in reports) == [False, True]
        assert sum(len(r.marks) for r in reports) == 10  # at risk + breached, each once
        # Even past the lease (two instances running the checks at once), marks hold.
        both = await asyncio.gather(
            check_open_handoffs(store.sessions, now=store.clock.now),
            check_open_handoffs(create_session_factory(other_engine), now=store.clock.now),
        )
        assert both == [[], []]
    finally:
        await other_engine.dispose()
    for conversation_id in ids:
        assert len(await store.breach_events(conversation_id)) == 1


async def test_checks_without_the_lease_still_escalate_once(
    store: Store, database_url: str
) -> None:
    ids = [await store.queued(f"customer-{n}") for n in range(4)]
    other_engine = create_engine(database_url)
    try:
        later = T0 + timedelta(hours=25)
        results = await asyncio.gather(
            check_open_handoffs(store.sessions, now=later),
            check_open_handoffs(create_session_factory(other_engine), now=later),
        )
    finally:
        await other_engine.dispose()
    breaches = [m for marks in results for m in marks if m.kind == "breached"]
    assert sorted(m.conversation_id for m in breaches) == ids
    for conversation_id in ids:
        assert len(await store.breach_events(conversation_id)) == 1


async def test_the_lease_passes_on_only_when_it_runs_out(store: Store) -> None:
    a, b = store.monitor("gateway-a", interval=30.0), store.monitor("gateway-b", interval=30.0)
    assert (await a.tick()).ran
    store.clock.at(seconds=30)
    assert not (await b.tick()).ran
    assert (await a.tick()).ran  # the holder renews
    store.clock.at(seconds=30 + 89)
    assert not (await b.tick()).ran
    store.clock.at(seconds=30 + 90)  # a stopped renewing 90 s ago: its lease ran out
    assert (await b.tick()).ran
    assert not (await a.tick()).ran
    async with store.sessions() as session:
        lease = await session.get(JobLease, SLA_JOB)
        assert lease is not None and lease.holder == "gateway-b"


async def test_supervisors_hear_of_marks_and_overdue_follow_ups_once(store: Store) -> None:
    conversation_id = await store.queued("customer-1", priority="urgent")
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
    async with store.sessions() as session, session.begin():
        record = Handoff(conversation_id=conversation_id, requested_at=T0 - timedelta(days=3))
        session.add(record)
        await session.flush()
        wrap = WrapUp(
            handoff_id=record.id,
            conversation_id=conversation_id,
            rep_id=ann.id,
            nature_of_inquiry="refund",
            actions_taken="asked the warehouse",
            follow_up_required=True,
            follow_up_due=date(2026, 3, 2),
            follow_up_owner_id=ann.id,
            created_at=T0 - timedelta(days=3),
        )
        session.add(wrap)
    monitor = store.monitor()
    async with store.hub.subscribe() as events:
        store.clock.at(hours=1)  # urgent breached; the follow-up is due today, not overdue
        await monitor.tick()
        seen = await _drain(events)
        assert {(e.kind, e.data.get("mark")) for e in seen} == {
            ("sla", "at_risk"),
            ("sla", "breached"),
            ("queue", None),
        }
        store.clock.at(days=1)  # the follow-up's day has passed
        await monitor.tick()
        [overdue] = await _drain(events)
        assert (overdue.kind, overdue.data) == (
            "follow_up",
            {"wrap_up_id": wrap.id, "change": "overdue"},
        )
        store.clock.at(days=2)
        await monitor.tick()
        assert await _drain(events) == []
    async with store.sessions() as session:
        flagged = await session.get(WrapUp, wrap.id)
        assert flagged is not None and flagged.follow_up_overdue_at == T0 + timedelta(days=1)


async def _drain(events: object) -> list[LiveEvent]:
    out = []
    while (event := await events.next(timeout=0.05)) is not None:  # type: ignore[attr-defined]
        out.append(event)
    return out


async def test_response_targets_come_from_settings(sqlite_url: str) -> None:
    async with running_desk(sqlite_url, SLA_HOURS_URGENT=2, SLA_HOURS_LOW=48) as desk:
        targets = desk.services.targets
        assert targets.for_priority(Priority.URGENT) == timedelta(hours=2)
        # The SLA clock works from the same targets the handoffs are queued with.
        assert desk.services.monitor is not None and desk.services.monitor.targets is targets
        async with desk.services.session_factory() as session:
            urgent = await make_queued(
                session, address="c-1", priority="urgent", now=T0, targets=targets
            )
            low = await make_queued(session, address="c-2", priority="low", now=T0, targets=targets)
        assert urgent.due_at == T0 + timedelta(hours=2)
        assert low.due_at == T0 + timedelta(hours=48)
    # Nothing global changed: another gateway gets the defaults.
    assert ResponseTargets.defaults().for_priority(Priority.URGENT) == timedelta(hours=1)


async def test_the_gateway_runs_the_monitor(sqlite_url: str) -> None:
    async with running_desk(sqlite_url) as desk:
        assert desk.services.monitor is not None
        assert "sla-monitor" in {t.get_name() for t in desk.services.background}
        for _ in range(100):
            async with desk.services.session_factory() as session:
                holder = await session.scalar(
                    select(JobLease.holder).where(JobLease.name == SLA_JOB)
                )
            if holder == desk.services.monitor.holder:
                break
            await asyncio.sleep(0.05)
        assert holder == desk.services.monitor.holder
        await desk.rep("sue", Role.SUPERVISOR)
        async with desk.services.session_factory() as session:
            assert await session.scalar(select(func.count()).select_from(JobLease)) == 1
