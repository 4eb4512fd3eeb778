"""Retention: purging inactive conversations with everything that hangs off them, in batches."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationRead,
    Delivery,
    Episode,
    EpisodeOutcome,
    FaqFeedback,
    Handoff,
    Message,
    Note,
    Rating,
    WrapUp,
)
from handoff.monitor import SlaMonitor
from handoff.retention import purge_inactive
from tests.handoff.report_data import Known, seed_known

# The known data set's activity ends on 3 March (C4 still waits for a person).
NOW = datetime.fromisoformat("2026-04-02T12:00:00+00:00")
CHILDREN = (
    Message,
    Delivery,
    Note,
    WrapUp,
    Rating,
    Handoff,
    FaqFeedback,
    ConversationRead,
    Episode,
)


@pytest.fixture
async def known(database_url: str) -> AsyncIterator[tuple[Known, Any]]:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    known = await seed_known(sessions)
    async with sessions() as session, session.begin():
        c2 = known.conversations["C2"]
        [message_id] = (
            await session.scalars(select(Message.id).where(Message.conversation_id == c2).limit(1))
        ).all()
        session.add(Note(conversation_id=c2, rep_id=known.reps["ann"].id, text="called back"))
        session.add(
            Delivery(message_id=message_id, conversation_id=c2, channel="sms", address="x", body={})
        )
        session.add(AuditEvent(conversation_id=c2, actor="bot", reason="handoff: customer_request"))
        session.add(ConversationRead(conversation_id=c2, rep_id=known.reps["ann"].id, via="api"))
    yield known, sessions
    await engine.dispose()


async def _remaining(sessions: Any) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in (Conversation, Contact, *CHILDREN)
        }


async def test_a_dry_run_counts_and_changes_nothing(known: tuple[Known, Any]) -> None:
    before = await _remaining(known[1])
    report = await purge_inactive(
        known[1], older_than_days=30, actor="cli:test", now=NOW, dry_run=True
    )
    # Inactive since before 3 March 12:00: C1 (2 March), C2, C3 and C6; C5 wrote at 12:00 on
    # the 3rd (kept); C4 waits for a person (never purged while open).
    assert report.counts["conversations"] == 4
    assert report.counts["contacts"] == 4
    assert report.counts["messages"] == 2 * (3 + 1 + 1 + 1)
    assert await _remaining(known[1]) == before


async def test_a_purge_removes_old_conversations_in_batches_and_is_audited(
    known: tuple[Known, Any],
) -> None:
    ids, sessions = known[0].conversations, known[1]
    async with sessions() as session, session.begin():
        c1 = await session.get(Conversation, ids["C1"])
        assert c1 is not None and c1.last_message_at is not None
        session.add(
            Episode(
                conversation_id=c1.id,
                contact_id=c1.contact_id,
                started_at=c1.last_message_at,
                last_activity_at=c1.last_message_at,
                nature_of_inquiry="track_order",
                outcome=EpisodeOutcome.ANSWERED,
                closed_at=c1.last_message_at + timedelta(days=1),
            )
        )
    report = await purge_inactive(
        sessions, older_than_days=30, actor="cli:ops", now=NOW, batch_size=3
    )
    counts = dict(report.counts)
    assert counts == {
        "conversations": 4,
        "contacts": 4,
        "messages": 12,
        "deliveries": 1,
        "notes": 1,
        "wrap_ups": 3,  # C2, C3, C6
        "ratings": 3,
        "episodes": 1,  # C1's interaction record goes with it
        "handoffs": 3,
        "response_windows": 5,  # C2's and C3's first and next, C6's first
        "alerts": 0,
        "faq_feedback": 1,  # C1's; C4's is kept with C4
        "audit_events": 1,
        "reads": 1,  # who read a conversation goes with it
    }
    async with sessions() as session:
        left = set(await session.scalars(select(Conversation.id)))
        assert left == {ids["C4"], ids["C5"]}
        for model in CHILDREN:
            orphans = await session.scalar(
                select(func.count()).select_from(model).where(model.conversation_id.not_in(left))
            )
            assert orphans == 0, model.__tablename__
        [audit] = (
            await session.scalars(select(AuditEvent).where(AuditEvent.conversation_id.is_(None)))
        ).all()
    assert audit.actor == "cli:ops"
    assert audit.reason.startswith("data purge: purged 4 conversations, 3 ratings")
    assert "2026-03-03T12:00:00+00:00" in audit.reason
    again = await purge_inactive(sessions, older_than_days=30, actor="cli:ops", now=NOW)
    assert again.counts["conversations"] == 0


async def test_the_monitor_purges_at_most_daily(known: tuple[Known, Any]) -> None:
    sessions = known[1]
    clock = {"now": NOW}
    monitor = SlaMonitor(sessions, retention_days=30, clock=lambda: clock["now"], holder="a")
    assert (await monitor.tick()).purged_conversations == 4
    clock["now"] = NOW + timedelta(hours=23)
    assert (await monitor.tick()).purged_conversations is None
    clock["now"] = NOW + timedelta(days=1, minutes=1)
    assert (await monitor.tick()).purged_conversations == 1  # C5 is now 30 days old too


def test_the_cli_purges_and_says_what_it_did(sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": sqlite_url, "LOG_LEVEL": "WARNING"}
    env.pop("RETENTION_DAYS", None)
    command = [sys.executable, "-m", "gateway.cli", "data", "purge"]
    missing = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "--older-than-days" in missing.stderr
    dry = subprocess.run(
        [*command, "--older-than-days", "30", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.startswith("Would purge 0 conversations")
    done = subprocess.run(
        command, env={**env, "RETENTION_DAYS": "7"}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stderr.startswith("Purged 0 conversations"), done.stderr
