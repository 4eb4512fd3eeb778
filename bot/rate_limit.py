"""Per-sender rate limiting: a token bucket per (channel, customer address), in this process.

One customer who floods a channel must not crowd out everyone else: each sender may send
`burst` messages at once and then `per_minute` a minute on average. The limiter is in-memory
and per gateway instance; with several instances a sender's allowance is per instance, which
still bounds what one sender can cost any one of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.settings import Settings

# Buckets kept at most; the least recently seen are dropped first (a dropped bucket was full
# or nearly so, so forgetting it only ever errs towards letting a sender through).
MAX_TRACKED_SENDERS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by channel and address; `allow()` takes one token or says no."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED_SENDERS,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self._rate = per_minute / 60.0  # tokens per second
        self._burst = float(burst)
        self._clock = clock
        self._max_tracked = max_tracked
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(per_minute=settings.RATE_LIMIT_PER_MINUTE, burst=settings.RATE_LIMIT_BURST)

    def allow(self, channel: str, address: str) -> bool:
        """Whether a message from `address` on `channel` may go through now (and count it)."""
        now = self._clock()
        key = (str(channel), address)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=self._burst, updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False
