"""Two gateway instances on one PostgreSQL store: each supervisor alert leaves once, by webhook
and by email, while both run the SLA monitor's lease race and both poll the alert outbox."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.store.models import Alert, AlertDelivery, DeliveryStatus
from tests.conftest import make_settings
from tests.handoff.factories import make_queued
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.alert_receivers import running_smtp_server, running_webhook_receiver
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import running_rasa_standin

pytestmark = pytest.mark.postgres

SECRET = "alert-signing-key-for-tests-0123456789"


async def test_a_breach_is_alerted_once_across_two_instances(
    postgres_url: str, redis_prefix: str
) -> None:
    with running_smtp_server() as smtp:
        async with running_webhook_receiver() as webhook, running_rasa_standin() as rasa:
            settings = make_settings(
                postgres_url,
                rasa.url,
                REDIS_URL=TEST_REDIS_URL,
                REDIS_PREFIX=redis_prefix,
                # An urgent window of under two seconds, checked five times a second.
                SLA_HOURS_URGENT=0.0005,
                SLA_MONITOR_INTERVAL_SECONDS=0.2,
                ALERT_WEBHOOK_URL=webhook.url,
                ALERT_WEBHOOK_SECRET=SECRET,
                SMTP_URL=f"smtp://{smtp.host}:{smtp.port}",
                ALERT_EMAIL_FROM="alerts@caricom.example",
                ALERT_EMAIL_TO="sue@caricom.example",
            )
            async with running_gateway(settings) as a, running_gateway(settings) as b:
                for gateway in (a, b):
                    tasks = {t.get_name() for t in gateway.services.background}
                    assert {"sla-monitor", "alert-outbox"} <= tasks
                async with a.services.session_factory() as session:
                    for n in range(3):
                        await make_queued(
                            session,
                            address=f"customer-{n}",
                            priority="urgent",
                            targets=a.services.targets,
                        )

                async def all_sent() -> bool:
                    async with b.services.session_factory() as session:
                        rows = list(await session.scalars(select(AlertDelivery)))
                    return len(rows) == 12 and all(r.status == DeliveryStatus.SENT for r in rows)

                await eventually(all_sent, timeout=60)
                async with a.services.session_factory() as session:
                    alerts = list(await session.scalars(select(Alert)))
                    deliveries = list(await session.scalars(select(AlertDelivery)))
    # Three handoffs, at risk and breached: six alerts, each sent once to each target.
    assert sorted(str(a.kind) for a in alerts) == ["at_risk"] * 3 + ["breached"] * 3
    assert all(d.attempts == 1 for d in deliveries)
    ids = sorted(json.loads(p.body)["id"] for p in webhook.posts)
    assert ids == sorted(a.id for a in alerts)
    message_ids = sorted(m["Message-ID"] for m in smtp.mailbox.messages)
    assert len(message_ids) == 6 and len(set(message_ids)) == 6
