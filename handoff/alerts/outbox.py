"""The alerts' outbox: each (alert, target) row is sent until sent, retried with backoff.

The same discipline as the customer outbox (bot/outbox.py): rows are stored with the alert,
claimed by a conditional UPDATE … RETURNING under a lease (of two gateway instances, each row
goes to one), sent after the claim's commit, and recorded. A sent row is never sent again, so a
restart resends nothing; a send cut off by a crash is retried when its lease runs out (the
receiver can recognise the repeat by the alert id it carries). Past `give_up_after` a row that
keeps failing is marked failed and logged, so a dead target does not pile up work for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.loop_failures import LoopFailures
from bot.sending import Failed, Outcome, RetryLater, Sent, backoff_seconds
from bot.store.models import Alert, AlertDelivery, AlertTarget, DeliveryStatus, utcnow
from handoff.alerts.message import alert_document
from handoff.alerts.senders import AlertSender

logger = logging.getLogger(__name__)


@dataclass
class AlertOutbox:
    session_factory: async_sessionmaker[AsyncSession]
    senders: Mapping[AlertTarget, AlertSender]
    console_base_url: str
    lease: timedelta = timedelta(seconds=60)
    give_up_after: timedelta = timedelta(hours=24)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self._wake.set()

    async def send_due(self, *, limit: int = 50, now: datetime | None = None) -> int:
        """Claim and send the rows that are due; return how many were claimed."""
        now = now or utcnow()
        async with self.session_factory() as session, session.begin():
            due = (
                select(AlertDelivery.id)
                .where(
                    AlertDelivery.target.in_(list(self.senders)),
                    or_(
                        (AlertDelivery.status == DeliveryStatus.PENDING)
                        & (AlertDelivery.next_attempt_at <= now),
                        (AlertDelivery.status == DeliveryStatus.SENDING)
                        & (AlertDelivery.lease_until < now),
                    ),
                )
                .order_by(AlertDelivery.id)
                .limit(limit)
            )
            # The condition is checked again by the UPDATE: of two instances racing for a row,
            # the second finds it `sending` under a live lease and takes nothing.
            claimed = (
                await session.execute(
                    update(AlertDelivery)
                    .where(
                        AlertDelivery.id.in_(due.scalar_subquery()),
                        or_(
                            AlertDelivery.status == DeliveryStatus.PENDING,
                            (AlertDelivery.status == DeliveryStatus.SENDING)
                            & (AlertDelivery.lease_until < now),
                        ),
                    )
                    .values(status=DeliveryStatus.SENDING, lease_until=now + self.lease)
                    .returning(AlertDelivery.id, AlertDelivery.alert_id, AlertDelivery.target)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            alerts = {
                a.id: alert_document(a, console_base_url=self.console_base_url)
                for a in await session.scalars(
                    select(Alert).where(Alert.id.in_({row.alert_id for row in claimed}))
                )
            }
        for row in sorted(claimed, key=lambda r: r.id):
            target = AlertTarget(row.target)
            outcome = await self._send(target, alerts[row.alert_id])
            await self._record(row.id, outcome, now)
        return len(claimed)

    async def _send(self, target: AlertTarget, document: dict[str, object]) -> Outcome:
        try:
            return await self.senders[target].send(document)
        except Exception as error:  # a sender bug must not lose the alert
            logger.exception("alert.sender_error target=%s", target)
            return RetryLater(error=f"{type(error).__name__}: {error}")

    async def _record(self, delivery_id: int, outcome: Outcome, now: datetime) -> None:
        async with self.session_factory() as session, session.begin():
            delivery = await session.get(AlertDelivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.lease_until = None
            match outcome:
                case Sent():
                    delivery.status = DeliveryStatus.SENT
                    delivery.sent_at = now
                    delivery.last_error = None
                    delivery.next_attempt_at = None
                case RetryLater(error=error, retry_after=retry_after):
                    delivery.last_error = error
                    if now - delivery.created_at > self.give_up_after:
                        delivery.status = DeliveryStatus.FAILED
                        delivery.next_attempt_at = None
                    else:
                        delay = retry_after or backoff_seconds(delivery.attempts)
                        delivery.status = DeliveryStatus.PENDING
                        delivery.next_attempt_at = now + timedelta(seconds=delay)
                case Failed(error=error):
                    delivery.status = DeliveryStatus.FAILED
                    delivery.last_error = error
                    delivery.next_attempt_at = None
                case _:
                    delivery.status = DeliveryStatus.PENDING
                    delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(1))
            status, attempts, error_text = delivery.status, delivery.attempts, delivery.last_error
        log = logger.info if status == DeliveryStatus.SENT else logger.warning
        log(
            "alert.delivery delivery_id=%s status=%s attempts=%s error=%s",
            delivery_id,
            status,
            attempts,
            error_text,
        )

    async def run(self, *, poll_seconds: float = 5.0) -> None:
        """Send due alerts until cancelled; a failed round is logged, not fatal."""
        failures = LoopFailures(logger, "alert_outbox.poll_failed")
        while True:
            try:
                while await self.send_due() > 0:
                    pass
                failures.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures.failed(error)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
