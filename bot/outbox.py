"""The outbox: every outbound message part is a row, sent by its channel and retried until done.

A reply is committed with its deliveries (status `sending`, under a lease) in the same
transaction as the turn that produced it, then sent right after the commit. What fails for a
passing reason goes back to `pending` with a backoff; a crash mid-send leaves the lease to run
out and the poller sends it again. A web chat customer who is offline keeps the row `pending`
(no retry time) until they reconnect. Within one conversation, parts go out in order: when one
cannot go now, the ones after it wait too.

Exactly once, as far as a vendor allows: a send cut off midway (the process died, or the
request timed out after it left) may or may not have reached the vendor, so the delivery is
marked `in_doubt`. Before sending it again, a sender that can look (`Reconciling`: Twilio lists
the messages sent to a number) is asked whether the vendor already has it; if so, that message
is recorded and nothing is sent twice. Telegram has no way to look, so there an interrupted send
goes out again (at least once) and `outbox.resent_in_doubt` is logged.

After a vendor outage, the first send that succeeds on a channel brings that channel's waiting
retries forward, so a backlog goes out when the vendor is back rather than on each row's backoff
(bot/channel_health.py). What a channel's sender is given and answers is in bot/sending.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channel_health import ChannelHealth, make_oldest_retry_due, make_retries_due
from bot.loop_failures import LoopFailures
from bot.messages import Channel, Reply
from bot.metrics import Metrics
from bot.sending import (
    ChannelSender,
    Failed,
    LiveSender,
    Offline,
    OutboundJob,
    Outcome,
    Reconciling,
    RetryLater,
    Sent,
    apply_outcome,
)
from bot.settings import setting_default
from bot.store.models import Delivery, DeliveryStatus, utcnow

logger = logging.getLogger(__name__)


class NoSender(Exception):
    """No channel sender is registered for a conversation's channel in this gateway."""


@dataclass(frozen=True, slots=True)
class DeliveryChange:
    """A delivery's status changed (and is committed): what consoles show next to a reply."""

    conversation_id: int
    message_id: int
    status: DeliveryStatus


DeliveryListener = Callable[[DeliveryChange], None]


def _job(delivery: Delivery) -> OutboundJob:
    return OutboundJob(
        delivery_id=delivery.id,
        conversation_id=delivery.conversation_id,
        channel=delivery.channel,
        address=delivery.address,
        body=delivery.body,
        created_at=delivery.created_at,
        in_doubt=delivery.in_doubt,
    )


class Outbox:
    """Queues replies as deliveries and sends them through the registered channel senders."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        metrics: Metrics | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._metrics = metrics
        self._lease = lease or timedelta(seconds=setting_default("DELIVERY_LEASE_SECONDS"))
        self._health = ChannelHealth()
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
            raise NoSender(f"no sender is configured for channel {channel}") from None

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
        """Add the deliveries for `reply`, claimed for sending right after the caller commits.

        Behind a part of the same conversation that waits for a retry, they wait too (due, but
        sent only after it: see `send_due`), so a customer never reads an answer before the
        one it follows.
        """
        now = utcnow()
        sender = self.sender(channel)
        status = DeliveryStatus.SENDING
        lease: datetime | None = now + self._lease
        next_attempt_at: datetime | None = None
        if isinstance(sender, LiveSender):
            reachable = await sender.reachable(address)
            status = DeliveryStatus.SENT if reachable else DeliveryStatus.PENDING
            lease = None
        elif await self._waiting_in(session, conversation_id):
            status, lease, next_attempt_at = DeliveryStatus.PENDING, None, now
        deliveries = [
            Delivery(
                message_id=message_id,
                conversation_id=conversation_id,
                channel=channel,
                address=address,
                body=body,
                status=status,
                lease_until=lease,
                next_attempt_at=next_attempt_at,
                attempts=1 if status == DeliveryStatus.SENT else 0,
                accepted_at=now if status == DeliveryStatus.SENT else None,
                created_at=now,
                updated_at=now,
            )
            for body in sender.render(reply)
        ]
        session.add_all(deliveries)
        return deliveries

    @staticmethod
    async def _waiting_in(session: AsyncSession, conversation_id: int) -> bool:
        """Whether a part of the conversation waits for a retry (one being sent does not)."""
        found = await session.scalar(
            select(Delivery.id)
            .where(
                Delivery.conversation_id == conversation_id,
                Delivery.status == DeliveryStatus.PENDING,
            )
            .limit(1)
        )
        return found is not None

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
            jobs = await self._claim(session, [conversation_id], now)
        await self._send_jobs(jobs)

    async def send_due(self, *, limit: int = 100) -> int:
        """Claim and send what is due; return how many deliveries were claimed.

        Due: a conversation whose oldest unsent part waits for a retry whose time has come, or
        whose send's lease ran out (the instance sending it died). The conversation's waiting
        parts are claimed with it and sent in order behind it.
        """
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            heads = (
                select(Delivery.conversation_id, func.min(Delivery.id).label("id"))
                .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
                .group_by(Delivery.conversation_id)
                .subquery()
            )
            due = (
                select(Delivery.conversation_id)
                .join(heads, heads.c.id == Delivery.id)
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
            conversation_ids = list(await session.scalars(due))
            jobs = await self._claim(session, conversation_ids, now) if conversation_ids else []
        await self._send_jobs(jobs)
        return len(jobs)

    def wake(self) -> None:
        """Ask the poller to look now (something became due sooner than its next tick)."""
        self._wake.set()

    async def run(self, *, poll_seconds: float = 1.0) -> None:
        """Background loop: send due retries until cancelled."""
        failures = LoopFailures(logger, "outbox.poll_failed")
        while True:
            try:
                for channel in self._health.probes_due():
                    await self._probe(channel)
                while await self.send_due() > 0:
                    pass
                failures.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # A store outage must not end the loop: log and try again next tick.
                failures.failed(error)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)

    async def _claim(
        self, session: AsyncSession, conversation_ids: Sequence[int], now: datetime
    ) -> list[OutboundJob]:
        """Take the conversations' unsent parts that no live instance is sending."""
        # A conditional UPDATE … RETURNING: of two instances racing, each row goes to one (on
        # PostgreSQL the second waits for the first's row locks, then re-checks the condition
        # against the rows as the first left them).
        # A row still `sending` here was left by a send that never finished (its lease ran
        # out): SET sees the old status, so such a row is marked in doubt as it is taken.
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.conversation_id.in_(conversation_ids),
                or_(
                    Delivery.status == DeliveryStatus.PENDING,
                    (Delivery.status == DeliveryStatus.SENDING) & (Delivery.lease_until < now),
                ),
            )
            .values(
                status=DeliveryStatus.SENDING,
                lease_until=now + self._lease,
                updated_at=now,
                in_doubt=or_(Delivery.in_doubt, Delivery.status == DeliveryStatus.SENDING),
            )
            .returning(
                Delivery.id,
                Delivery.conversation_id,
                Delivery.channel,
                Delivery.address,
                Delivery.body,
                Delivery.created_at,
                Delivery.in_doubt,
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
                created_at=row.created_at,
                in_doubt=bool(row.in_doubt),
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
        sender = self.sender(job.channel)
        try:
            if job.in_doubt:
                settled = await self._settle_in_doubt(sender, job)
                if settled is not None:
                    return settled
            return await sender.send(job)
        except Exception as error:
            # A sender bug must not lose the message: retry it, and make the bug visible.
            logger.exception(
                "outbox.sender_error delivery_id=%s channel=%s", job.delivery_id, job.channel
            )
            return RetryLater(error=f"{type(error).__name__}: {error}")

    async def _settle_in_doubt(self, sender: ChannelSender, job: OutboundJob) -> Outcome | None:
        """The vendor's copy of a delivery whose last send was cut off; None: send it again."""
        if not isinstance(sender, Reconciling):
            logger.warning(
                "outbox.resent_in_doubt delivery_id=%s channel=%s", job.delivery_id, job.channel
            )
            return None
        try:
            candidates = await sender.find_sent(job)
        except Exception as error:
            # Sending blind could send it twice; wait until the vendor can say.
            return RetryLater(
                error=f"could not check whether an interrupted send went out: "
                f"{type(error).__name__}: {error}",
                in_doubt=True,
            )
        if candidates:
            # A message with the same text may belong to another delivery to the same customer.
            async with self._session_factory() as session:
                taken = set(
                    await session.scalars(
                        select(Delivery.provider_message_id).where(
                            Delivery.provider_message_id.in_(candidates)
                        )
                    )
                )
            for provider_id in candidates:
                if provider_id not in taken:
                    logger.info(
                        "outbox.reconciled delivery_id=%s channel=%s provider_id=%s",
                        job.delivery_id,
                        job.channel,
                        provider_id,
                    )
                    return Sent(provider_message_id=provider_id)
        return None

    async def _record(self, outcomes: list[tuple[OutboundJob, Outcome | None]]) -> None:
        now = utcnow()
        changes: list[DeliveryChange] = []
        async with self._session_factory() as session, session.begin():
            first_wait: datetime | None = None
            for job, outcome in outcomes:
                if isinstance(outcome, Sent):
                    # The usual outcome, in one statement: the row is not loaded.
                    change = await self._record_sent(session, job, outcome, now)
                    if change is not None:
                        changes.append(change)
                    continue
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
                apply_outcome(delivery, outcome, now)
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
        await self._track_channel_health(outcomes)

    @staticmethod
    async def _record_sent(
        session: AsyncSession, job: OutboundJob, outcome: Sent, now: datetime
    ) -> DeliveryChange | None:
        """`apply_outcome` for a send the vendor took, as one UPDATE; the change to announce."""
        row = (
            await session.execute(
                update(Delivery)
                .where(Delivery.id == job.delivery_id)
                .values(
                    status=DeliveryStatus.SENT,
                    attempts=Delivery.attempts + 1,
                    in_doubt=False,
                    accepted_at=func.coalesce(Delivery.accepted_at, now),
                    provider_message_id=outcome.provider_message_id,
                    next_attempt_at=None,
                    last_error=None,
                    lease_until=None,
                    updated_at=now,
                )
                .returning(Delivery.conversation_id, Delivery.message_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            return None
        # Claimed for sending, so it was not `sent` before: its status changed.
        return DeliveryChange(row.conversation_id, row.message_id, DeliveryStatus.SENT)

    async def _track_channel_health(
        self, outcomes: list[tuple[OutboundJob, Outcome | None]]
    ) -> None:
        """After failures on a channel, its first success brings its waiting retries forward."""
        recovered = self._health.observe(
            succeeded=(job.channel for job, outcome in outcomes if isinstance(outcome, Sent)),
            failed=(job.channel for job, outcome in outcomes if isinstance(outcome, RetryLater)),
        )
        if recovered:
            await self._retry_now(recovered)

    async def _probe(self, channel: Channel) -> None:
        async with self._session_factory() as session, session.begin():
            await make_oldest_retry_due(session, channel, now=utcnow())

    async def _retry_now(self, channels: set[Channel]) -> None:
        async with self._session_factory() as session, session.begin():
            count = await make_retries_due(session, channels, now=utcnow())
        logger.info(
            "outbox.channel_recovered channels=%s retries_brought_forward=%s",
            ",".join(sorted(channels)),
            count,
        )
        self.wake()

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
