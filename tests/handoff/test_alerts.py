"""Supervisor alerts: raised once with each SLA mark and overdue follow-up, sent by a signed
webhook and by email (a local SMTP server), retried through their outbox, never sent twice."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertTarget,
    DeliveryStatus,
    Handoff,
    WrapUp,
)
from handoff.alerts.outbox import AlertOutbox
from handoff.alerts.raising import AlertRaiser, conversation_subject
from handoff.alerts.senders import (
    ALERT_ID_HEADER,
    SIGNATURE_HEADER,
    AlertSender,
    EmailSender,
    SmtpServer,
    WebhookSender,
)
from handoff.monitor import SlaMonitor
from handoff.sla import check_open_handoffs
from tests.handoff.factories import make_queued, make_rep
from tests.support.alert_receivers import (
    SmtpStandIn,
    WebhookReceiver,
    running_smtp_server,
    running_webhook_receiver,
)

T0 = datetime.fromisoformat("2026-03-02T14:00:00+00:00")
SECRET = "alert-signing-key-for-tests-0123456789"
BOTH = (AlertTarget.WEBHOOK, AlertTarget.EMAIL)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    sessions: async_sessionmaker[AsyncSession]
    webhook: WebhookReceiver
    smtp: SmtpStandIn
    clock: Clock = field(default_factory=Clock)

    def senders(self) -> dict[AlertTarget, AlertSender]:
        return {
            AlertTarget.WEBHOOK: WebhookSender(url=self.webhook.url, secret=SECRET, timeout=5),
            AlertTarget.EMAIL: EmailSender(
                server=SmtpServer(self.smtp.host, self.smtp.port, None, None, False, False),
                sender="alerts@caricom.example",
                recipients=["sue@caricom.example", "sam@caricom.example"],
                timeout=5,
            ),
        }

    def outbox(self, sessions: async_sessionmaker[AsyncSession] | None = None) -> AlertOutbox:
        return AlertOutbox(
            sessions or self.sessions, self.senders(), console_base_url="https://cc.example"
        )

    def monitor(
        self, holder: str = "gateway-a", sessions: async_sessionmaker[AsyncSession] | None = None
    ) -> SlaMonitor:
        return SlaMonitor(
            sessions or self.sessions, clock=self.clock, holder=holder, alerts=AlertRaiser(BOTH)
        )

    async def deliveries(self) -> list[AlertDelivery]:
        async with self.sessions() as session:
            return list(await session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


@pytest.fixture
async def setup(database_url: str) -> AsyncIterator[Setup]:
    engine = create_engine(database_url)
    with running_smtp_server() as smtp:
        async with running_webhook_receiver() as webhook:
            yield Setup(create_session_factory(engine), webhook, smtp)
    await engine.dispose()


def _documents(receiver: WebhookReceiver) -> list[dict[str, object]]:
    return [json.loads(post.body) for post in receiver.posts]


async def test_a_breach_reaches_the_webhook_signed_and_the_supervisors_by_email_once(
    setup: Setup,
) -> None:
    async with setup.sessions() as session:
        conversation = await make_queued(session, address="c-1", priority="urgent", now=T0)
    monitor = setup.monitor()
    await monitor.tick()
    setup.clock.now = T0 + timedelta(hours=1)  # urgent: a one-hour window
    marks = (await monitor.tick()).marks
    assert [m.kind for m in marks] == ["at_risk", "breached"]
    assert await setup.outbox().send_due() == 4  # two alerts, two targets each

    documents = _documents(setup.webhook)
    assert [d["kind"] for d in documents] == ["at_risk", "breached"]
    for post, document in zip(setup.webhook.posts, documents, strict=True):
        expected = hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
        assert post.headers[SIGNATURE_HEADER] == f"sha256={expected}"
        assert post.headers[ALERT_ID_HEADER] == str(document["id"])
        assert document["conversation_id"] == conversation.id
        assert (
            document["console_url"] == f"https://cc.example/console/conversations/{conversation.id}"
        )
    details = documents[1]["details"]
    assert isinstance(details, dict)
    assert (details["window"], details["priority"], details["escalated"]) == (
        "first",
        "urgent",
        True,
    )

    mails = setup.smtp.mailbox.messages
    assert [m["Subject"] for m in mails] == [
        "[Caricom Connects] Handoff at risk of missing its response window",
        "[Caricom Connects] Handoff past its response window",
    ]
    assert setup.smtp.mailbox.recipients[0] == ["sue@caricom.example", "sam@caricom.example"]
    assert f"Conversation: {conversation.id}" in mails[1].get_payload()  # type: ignore[operator]

    # Later ticks, a second monitor and a restarted outbox add and resend nothing.
    setup.clock.now = T0 + timedelta(hours=5)
    assert (await monitor.tick()).marks == []
    assert (
        await check_open_handoffs(setup.sessions, now=setup.clock.now, alerts=AlertRaiser(BOTH))
        == []
    )
    assert await setup.outbox().send_due(now=T0 + timedelta(days=1)) == 0
    assert len(setup.webhook.posts) == 2 and len(setup.smtp.mailbox.messages) == 2
    assert {d.status for d in await setup.deliveries()} == {DeliveryStatus.SENT}


async def test_a_failing_webhook_is_retried_through_the_outbox_and_email_is_not_held_up(
    setup: Setup,
) -> None:
    async with setup.sessions() as session, session.begin():
        await AlertRaiser(BOTH).raise_alert(
            session,
            kind=AlertKind.BREACHED,
            subject="handoff:41",
            details={"handoff_id": 41},
            now=T0,
        )
    setup.webhook.fail_next = 2
    outbox = setup.outbox()
    assert await outbox.send_due(now=T0) == 2
    webhook_row, email_row = await setup.deliveries()
    assert (webhook_row.status, webhook_row.attempts) == (DeliveryStatus.PENDING, 1)
    assert webhook_row.last_error == "webhook answered 503"
    assert webhook_row.next_attempt_at is not None and webhook_row.next_attempt_at > T0
    assert email_row.status == DeliveryStatus.SENT and len(setup.smtp.mailbox.messages) == 1
    assert await outbox.send_due(now=T0) == 0  # not due again yet

    later = T0 + timedelta(minutes=10)
    await outbox.send_due(now=later)  # second 503
    await outbox.send_due(now=later + timedelta(minutes=10))
    webhook_row, _ = await setup.deliveries()
    assert (webhook_row.status, webhook_row.attempts) == (DeliveryStatus.SENT, 3)
    assert len(setup.webhook.posts) == 1


async def test_a_refused_alert_is_failed_not_retried_for_ever(setup: Setup) -> None:
    async with setup.sessions() as session, session.begin():
        await AlertRaiser((AlertTarget.WEBHOOK,)).raise_alert(
            session, kind=AlertKind.AT_RISK, subject="handoff:7", details={}, now=T0
        )
    setup.webhook.refuse_with = 401  # a wrong secret on the receiver's side
    await setup.outbox().send_due(now=T0)
    [row] = await setup.deliveries()
    assert (row.status, row.last_error) == (
        DeliveryStatus.FAILED,
        "webhook refused the alert: 401",
    )
    assert await setup.outbox().send_due(now=T0 + timedelta(days=1)) == 0


async def test_an_unreachable_smtp_server_is_retried(setup: Setup) -> None:
    async with setup.sessions() as session, session.begin():
        await AlertRaiser((AlertTarget.EMAIL,)).raise_alert(
            session, kind=AlertKind.AT_RISK, subject="handoff:8", details={}, now=T0
        )
    dead = EmailSender(
        server=SmtpServer("127.0.0.1", 9, None, None, False, False),  # nothing listens
        sender="alerts@caricom.example",
        recipients=["sue@caricom.example"],
        timeout=5,
    )
    await AlertOutbox(setup.sessions, {AlertTarget.EMAIL: dead}, "https://cc.example").send_due(
        now=T0
    )
    [row] = await setup.deliveries()
    assert row.status == DeliveryStatus.PENDING and row.last_error is not None
    assert row.last_error.startswith("SMTP unreachable")
    await setup.outbox().send_due(now=T0 + timedelta(hours=1))
    assert (await setup.deliveries())[0].status == DeliveryStatus.SENT


async def test_email_over_starttls_with_a_login(setup: Setup, tmp_path: Path) -> None:
    with running_smtp_server(starttls_dir=tmp_path, login=("alerts", "s3cret pass")) as smtp:
        server = SmtpServer.from_url(
            f"smtp://alerts:s3cret%20pass@{smtp.host}:{smtp.port}", starttls=True
        )
        assert (server.username, server.password, server.starttls) == (
            "alerts",
            "s3cret pass",
            True,
        )
        sender = EmailSender(
            server=server,
            sender="alerts@caricom.example",
            recipients=["sue@caricom.example"],
            timeout=5,
            tls_context=smtp.client_context,
        )
        async with setup.sessions() as session, session.begin():
            await AlertRaiser((AlertTarget.EMAIL,)).raise_alert(
                session, kind=AlertKind.BREACHED, subject="handoff:9", details={}, now=T0
            )
        outbox = AlertOutbox(setup.sessions, {AlertTarget.EMAIL: sender}, "https://cc.example")
        assert await outbox.send_due(now=T0) == 1
        [row] = await setup.deliveries()
        assert row.status == DeliveryStatus.SENT, row.last_error
        assert smtp.mailbox.tls_sessions == 1 and smtp.mailbox.logins == ["alerts"]
        [mail] = smtp.mailbox.messages
        assert mail["Message-ID"].startswith("<alert-")


async def test_an_overdue_follow_up_is_alerted_once(setup: Setup) -> None:
    async with setup.sessions() as session:
        ann = await make_rep(session, "ann")
        conversation = await make_queued(session, address="c-1", now=T0 - timedelta(days=3))
    async with setup.sessions() as session, session.begin():
        record = Handoff(conversation_id=conversation.id, requested_at=T0 - timedelta(days=3))
        session.add(record)
        await session.flush()
        session.add(
            WrapUp(
                handoff_id=record.id,
                conversation_id=conversation.id,
                rep_id=ann.id,
                nature_of_inquiry="refund",
                actions_taken="asked the warehouse",
                follow_up_required=True,
                follow_up_due=date(2026, 3, 1),
                follow_up_owner_id=ann.id,
                created_at=T0 - timedelta(days=3),
            )
        )
    monitor = setup.monitor()
    report = await monitor.tick()
    assert report.overdue_follow_ups == 1
    setup.clock.now = T0 + timedelta(days=1)
    assert (await monitor.tick()).overdue_follow_ups == 0
    await setup.outbox().send_due(now=setup.clock.now)
    overdue = [d for d in _documents(setup.webhook) if d["kind"] == "follow_up_overdue"]
    assert len(overdue) == 1
    details = overdue[0]["details"]
    assert isinstance(details, dict) and details["follow_up_due"] == "2026-03-01"
    assert (
        sum("Follow-up overdue" in (m["Subject"] or "") for m in setup.smtp.mailbox.messages) == 1
    )


async def test_the_language_alert_is_defined_for_routing_to_raise_once(setup: Setup) -> None:
    raiser = AlertRaiser((AlertTarget.WEBHOOK,))
    subject = conversation_subject(12, T0)
    for _ in range(2):
        async with setup.sessions() as session, session.begin():
            await raiser.raise_alert(
                session,
                kind=AlertKind.LANGUAGE_UNSERVED,
                subject=subject,
                details={"language": "fr"},
                now=T0,
            )
    await setup.outbox().send_due(now=T0)
    [document] = _documents(setup.webhook)
    assert document["title"] == "Nobody available speaks the customer's language"


async def test_two_instances_raise_and_send_each_alert_once(
    setup: Setup, database_url: str
) -> None:
    async with setup.sessions() as session:
        for n in range(6):
            await make_queued(session, address=f"c-{n}", priority="urgent", now=T0)
    other_engine = create_engine(database_url)  # a second gateway instance: its own pool
    try:
        other = create_session_factory(other_engine)
        later = T0 + timedelta(hours=2)
        # Past the monitor's lease (both running the checks at once), and both outboxes
        # polling at the same moment.
        await asyncio.gather(
            check_open_handoffs(setup.sessions, now=later, alerts=AlertRaiser(BOTH)),
            check_open_handoffs(other, now=later, alerts=AlertRaiser(BOTH)),
        )
        mine, theirs = setup.outbox(), setup.outbox(other)
        await asyncio.gather(mine.send_due(now=later, limit=5), theirs.send_due(now=later, limit=5))
        while await mine.send_due(now=later) + await theirs.send_due(now=later):
            pass
    finally:
        await other_engine.dispose()
    async with setup.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 12
    deliveries = await setup.deliveries()
    assert len(deliveries) == 24
    assert all(d.status == DeliveryStatus.SENT and d.attempts == 1 for d in deliveries)
    ids = [json.loads(p.body)["id"] for p in setup.webhook.posts]
    assert len(ids) == 12 and len(set(ids)) == 12
    message_ids = [m["Message-ID"] for m in setup.smtp.mailbox.messages]
    assert len(message_ids) == 12 and len(set(message_ids)) == 12
