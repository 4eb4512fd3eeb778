"""The outbox: every outbound message part is a row, sent by its channel and retried until done.

A reply is committed with its deliveries (status `sending`, under a lease) in the same
transaction as the turn that produced it, then sent right after the commit. What fails for a
passing reason goes back to `pending` with a backoff; a crash mid-send leaves the lease to run
out and the poller sends it again. A web chat customer who is offline keeps the row `pending`
(no retry time) until they reconnect. Within one conversation, parts go out in order: when one
cannot go now, the ones after it wait too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel, Reply
from bot.metrics import Metrics
from bot.store.models import Delivery, DeliveryStatus, utcnow

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)  # the response promise: past it a retry helps no one
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class OutboundJob:
    """One delivery as a sender sees it."""

    delivery_id: int
    conversation_id: int
    channel: Channel
    address: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sent:
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryLater:
    error: str
    retry_after: float | None = None  # seconds, when the vendor said (HTTP 429)


@dataclass(frozen=True, slots=True)
class Failed:
    """Permanent: the vendor will never take it (unsubscribed, blocked, invalid number)."""

    error: str


@dataclass(frozen=True, slots=True)
class Offline:
    """The customer cannot be reached live now (web chat closed); send when they come back."""


Outcome = Sent | RetryLater | Failed | Offline


@dataclass(frozen=True, slots=True)
class DeliveryChange:
    """A delivery's status changed (and is committed): what consoles show next to a reply."""

    conversation_id: int
    message_id: int
    status: DeliveryStatus


DeliveryListener = Callable[[DeliveryChange], None]


@runtime_checkable
class LiveSender(Protocol):
    """A channel that delivers over a connection the customer holds open (web chat).

    Whether the customer is connected is known before sending, and sending cannot fail for a
    passing reason, so the outcome is written with the reply itself: no lease, no second write.
    """

    live: bool

    async def reachable(self, address: str) -> bool: ...


class ChannelSender(Protocol):
    """The outbound half of a channel."""

    channel: Channel

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """The bodies to send for `reply`, one per vendor message (long texts split)."""
        ...

    async def send(self, job: OutboundJob) -> Outcome:
        """Send one body; never raise for vendor or network faults, return the outcome."""
        ...


def _job(delivery: Delivery) -> OutboundJob:
    return OutboundJob(
        delivery_id=delivery.id,
        conversation_id=delivery.conversation_id,
        channel=delivery.channel,
        address=delivery.address,
        body=delivery.body,
    )


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 … seconds, at most five minutes."""
    base: float = min(2.0**attempts, MAX_BACKOFF_SECONDS)
    return base * random.uniform(0.8, 1.2)


class Outbox:
    """Queues replies as deliveries and sends them through the registered channel senders."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, metrics: Metrics | None = None
    ) -> None:
        self._session_factory = session_factory
        self._metrics = metrics
        self._listeners: list[DeliveryListener] = []
        self._senders: dict[Channel, ChannelSender] = {}
        self._wake = asyncio.Event()

    def on_change(self, listener: DeliveryListener) -> None:
        """Call `listener` with every committed status change (sent, delivered, failed …)."""
        self._listeners.append(listener)

    def _announce(self, changes: Iterable[DeliveryChange]) -> None:
        for change in changes:
            for listener in self._listeners:
                try:
                    listener(change)
                except Exception:
                    logger.exception("outbox.listener_failed")

    def register(self, sender: ChannelSender) -> None:
        self._senders[sender.channel] = sender

    def sender(self, channel: Channel) -> ChannelSender:
        try:
            return self._senders[channel]
        except KeyError:
            raise LookupError(f"no sender is configured for channel {channel}") from None

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        message_id: int,
        conversation_id: int,
        channel: Channel,
        address: str,
        reply: Reply,
    ) -> list[Delivery]:
        """Add the deliveries for `reply`, claimed for sending right after the caller commits."""
        now = utcnow()
        sender = self.sender(channel)
        status = DeliveryStatus.SENDING
        lease: datetime | None = now + LEASE
        if isinstance(sender, LiveSender):
            reachable = await sender.reachable(address)
            status = DeliveryStatus.SENT if reachable else DeliveryStatus.PENDING
            lease = None
        deliveries = [
            Delivery(
                message_id=message_id,
                conversation_id=conversation_id,
                channel=channel,
                address=address,
                body=body,
                status=status,
                lease_until=lease,
                attempts=1 if status == DeliveryStatus.SENT else 0,
                created_at=now,
                updated_at=now,
            )
            for body in sender.render(reply)
        ]
        session.add_all(deliveries)
        return deliveries

    async def send_claimed(self, deliveries: Sequence[Delivery]) -> None:
        """Send what `enqueue` added, once the caller has committed it."""
        live = [d for d in deliveries if d.status == DeliveryStatus.SENT]
        for delivery in live:  # already recorded as sent with the reply
            await self.sender(delivery.channel).send(_job(delivery))
        self._announce(DeliveryChange(d.conversation_id, d.message_id, d.status) for d in live)
        claimed = [d for d in deliveries if d.status == DeliveryStatus.SENDING]
        await self._send_jobs(_job(d) for d in claimed)

    async def flush_conversation(self, conversation_id: int) -> None:
        """Send whatever is waiting for a conversation (a web chat customer came back)."""
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            claimable = (
                select(Delivery.id)
                .where(Delivery.conversation_id == conversation_id)
                .where(
                    or_(
                        Delivery.status == DeliveryStatus.PENDING,
                        (Delivery.status == DeliveryStatus.SENDING) & (Delivery.lease_until < now),
                    )
                )
            )
            jobs = await self._claim(session, claimable, now)
        await self._send_jobs(jobs)

    async def send_due(self, *, limit: int = 100) -> int:
        """Claim and send retries that are due and sends whose lease ran out; return how many."""
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            due = (
                select(Delivery.id)
                .where(
                    or_(
                        (Delivery.status == DeliveryStatus.PENDING)
                        & (Delivery.next_attempt_at <= now),
                        (Delivery.status == DeliveryStatus.SENDING) & (Delivery.lease_until < now),
                    )
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            jobs = await self._claim(session, due, now)
        await self._send_jobs(jobs)
        return len(jobs)

    def wake(self) -> None:
        """Ask the poller to look now (something became due sooner than its next tick)."""
        self._wake.set()

    async def run(self, *, poll_seconds: float = 1.0) -> None:
        """Background loop: send due retries until cancelled."""
        while True:
            try:
                while await self.send_due() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store outage must not end the loop: log and try again next tick.
                logger.exception("outbox.poll_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)

    async def _claim(
        self, session: AsyncSession, ids: Select[Any], now: datetime
    ) -> list[OutboundJob]:
        # A conditional UPDATE … RETURNING: of two instances racing, each row goes to one.
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids.scalar_subquery()))
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            .values(status=DeliveryStatus.SENDING, lease_until=now + LEASE, updated_at=now)
            .returning(
                Delivery.id,
                Delivery.conversation_id,
                Delivery.channel,
                Delivery.address,
                Delivery.body,
            )
            .execution_options(synchronize_session=False)
        )
        rows = sorted(result.all(), key=lambda row: row.id)
        return [
            OutboundJob(
                delivery_id=row.id,
                conversation_id=row.conversation_id,
                channel=Channel(row.channel),
                address=row.address,
                body=row.body,
            )
            for row in rows
        ]

    async def _send_jobs(self, jobs: Iterable[OutboundJob]) -> None:
        by_conversation = groupby(
            sorted(jobs, key=lambda j: (j.conversation_id, j.delivery_id)),
            key=lambda j: j.conversation_id,
        )
        await asyncio.gather(*(self._send_in_order(list(group)) for _, group in by_conversation))

    async def _send_in_order(self, jobs: list[OutboundJob]) -> None:
        outcomes: list[tuple[OutboundJob, Outcome | None]] = []
        blocked = False
        for job in jobs:
            if blocked:
                outcomes.append((job, None))  # waits behind an earlier part
                continue
            outcome = await self._send_one(job)
            outcomes.append((job, outcome))
            blocked = isinstance(outcome, RetryLater | Offline)
        await self._record(outcomes)

    async def _send_one(self, job: OutboundJob) -> Outcome:
        try:
            return await self.sender(job.channel).send(job)
        except Exception as error:
            # A sender bug must not lose the message: retry it, and make the bug visible.
            logger.exception(
                "outbox.sender_error delivery_id=%s channel=%s", job.delivery_id, job.channel
            )
            return RetryLater(error=f"{type(error).__name__}: {error}")

    async def _record(self, outcomes: list[tuple[OutboundJob, Outcome | None]]) -> None:
        now = utcnow()
        changes: list[DeliveryChange] = []
        async with self._session_factory() as session, session.begin():
            first_wait: datetime | None = None
            for job, outcome in outcomes:
                delivery = await session.get(Delivery, job.delivery_id)
                if delivery is None:
                    continue
                delivery.updated_at = now
                delivery.lease_until = None
                if outcome is None:
                    delivery.status = DeliveryStatus.PENDING
                    delivery.next_attempt_at = first_wait
                    continue
                before = delivery.status
                _apply(delivery, outcome, now)
                if delivery.status != before:
                    changes.append(
                        DeliveryChange(
                            delivery.conversation_id, delivery.message_id, delivery.status
                        )
                    )
                if self._metrics is not None and isinstance(outcome, RetryLater | Failed):
                    kind = "permanent" if delivery.status == DeliveryStatus.FAILED else "retry"
                    self._metrics.outbound_failures.labels(str(delivery.channel), kind).inc()
                if isinstance(outcome, RetryLater | Offline):
                    first_wait = delivery.next_attempt_at
                    if (
                        isinstance(outcome, RetryLater)
                        and delivery.status == DeliveryStatus.PENDING
                    ):
                        logger.warning(
                            "outbox.retry_scheduled delivery_id=%s channel=%s attempts=%s error=%s",
                            delivery.id,
                            delivery.channel,
                            delivery.attempts,
                            outcome.error,
                        )
        self._announce(changes)

    async def record_final_status(
        self, *, provider_message_id: str, status: DeliveryStatus, error: str | None
    ) -> bool:
        """A vendor reports a sent message delivered or not: move it forward, never backwards.

        A conditional update, so of two callbacks racing only one applies; False when no sent
        delivery has that vendor id (unknown, not yet recorded as sent, or already final).
        """
        values: dict[str, object] = {"status": status, "updated_at": utcnow()}
        if error is not None:
            values["last_error"] = error
        async with self._session_factory() as session, session.begin():
            changed = (
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.provider_message_id == provider_message_id,
                        Delivery.status == DeliveryStatus.SENT,
                    )
                    .values(**values)
                    .returning(Delivery.conversation_id, Delivery.message_id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        self._announce(DeliveryChange(row[0], row[1], status) for row in changed)
        return bool(changed)


def _apply(delivery: Delivery, outcome: Outcome, now: datetime) -> None:
    match outcome:
        case Sent(provider_message_id=provider_id):
            delivery.attempts += 1
            delivery.status = DeliveryStatus.SENT
            delivery.provider_message_id = provider_id
            delivery.next_attempt_at = None
            delivery.last_error = None
        case Offline():
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = None  # sent when the customer reconnects
        case RetryLater(error=error, retry_after=retry_after):
            delivery.attempts += 1
            delivery.last_error = error
            if now - delivery.created_at > GIVE_UP_AFTER:
                delivery.status = DeliveryStatus.FAILED
                logger.error("outbox.gave_up delivery_id=%s error=%s", delivery.id, error)
                return
            delay = retry_after if retry_after is not None else backoff_seconds(delivery.attempts)
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        case Failed(error=error):
            delivery.attempts += 1
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = error
            delivery.next_attempt_at = None
            logger.warning(
                "outbox.failed delivery_id=%s channel=%s error=%s",
                delivery.id,
                delivery.channel,
                error,
            )
