"""Which channels' vendors are failing, as this instance's sends see them, and what to do about it.

A vendor outage leaves every reply written meanwhile on its own exponential backoff, so when the
vendor comes back, replies would trickle out over as long again. Instead: while a channel fails,
one waiting reply is tried every `probe_every` (a probe, whatever its backoff says); the first
send that succeeds marks the channel recovered, and the outbox brings all its waiting retries
forward at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Channel
from bot.store.models import Delivery, DeliveryStatus, utcnow

PROBE_EVERY = timedelta(seconds=10)


class ChannelHealth:
    """Failing channels and when each was last tried."""

    def __init__(
        self, *, probe_every: timedelta = PROBE_EVERY, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._probe_every = probe_every
        self._clock = clock
        self._last_tried: dict[Channel, datetime] = {}

    @property
    def failing(self) -> set[Channel]:
        return set(self._last_tried)

    def observe(self, *, succeeded: Iterable[Channel], failed: Iterable[Channel]) -> set[Channel]:
        """Note a batch of sends' outcomes; return the channels that just recovered."""
        now = self._clock()
        failed = set(failed)
        recovered = (set(succeeded) & set(self._last_tried)) - failed
        for channel in recovered:
            del self._last_tried[channel]
        for channel in failed:
            self._last_tried[channel] = now
        return recovered

    def probes_due(self) -> list[Channel]:
        """Failing channels not tried for `probe_every`; each counts as tried now."""
        now = self._clock()
        due = [c for c, tried in self._last_tried.items() if now - tried >= self._probe_every]
        for channel in due:
            self._last_tried[channel] = now
        return due


async def make_oldest_retry_due(session: AsyncSession, channel: Channel, *, now: datetime) -> None:
    """A probe: the channel's longest-waiting retry becomes due now."""
    oldest = (
        select(Delivery.id)
        .where(
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at > now,
        )
        .order_by(Delivery.id)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.id == oldest)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


async def make_retries_due(session: AsyncSession, channels: set[Channel], *, now: datetime) -> int:
    """Every retry waiting on the recovered channels becomes due now; return how many."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.channel.in_(channels),
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
