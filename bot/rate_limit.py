"""Per-sender rate limiting: a token bucket per (channel, customer address).

One customer who floods a channel must not crowd out everyone else: each sender may send
`burst` messages at once and then `per_minute` a minute on average. With `REDIS_URL` set the
buckets live in Redis (`RedisRateLimiter`), so a sender's allowance is one across all gateway
instances; without it, in this process (`LocalRateLimiter`), which is all there is with one
gateway. Either is a `RateLimiter`: the channels only `await limiter.allow(channel, address)`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.settings import Settings

logger = logging.getLogger(__name__)

# Buckets kept at most; the least recently seen are dropped first (a dropped bucket was full
# or nearly so, so forgetting it only ever errs towards letting a sender through).
MAX_TRACKED_SENDERS = 100_000

# A rate-limit check sits in front of every inbound webhook: a Redis that does not answer
# quickly is treated as down rather than left to hold the vendor's request open.
REDIS_TIMEOUT_SECONDS = 0.5
# How often, at most, "Redis unavailable" is logged while it stays unavailable.
FALLBACK_WARNING_SECONDS = 60.0
# How long a failed Redis is left alone before it is asked again (each ask can cost a timeout).
REDIS_RETRY_AFTER_SECONDS = 5.0
# Longest a bucket key lives; a key dropped before its bucket refilled only errs towards
# letting its sender through (very low rates would otherwise ask for years).
MAX_BUCKET_TTL_MS = 24 * 3600 * 1000

# KEYS[1]: the bucket (a hash: tokens, updated in ms). ARGV: tokens per ms, burst, TTL in ms.
# Time comes from Redis, not the caller: instances whose clocks disagree still refill a
# bucket at the same rate. Read, refill, take and write happen in one script, so two
# instances taking from one bucket at once cannot both take its last token.
_BUCKET_SCRIPT = """
redis.replicate_commands()
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(stored[1])
local updated = tonumber(stored[2])
if tokens == nil or updated == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return allowed
"""


class RateLimiter(Protocol):
    """Token buckets keyed by channel and address; `allow()` takes one token or says no."""

    async def allow(self, channel: str, address: str) -> bool:
        """Whether a message from `address` on `channel` may go through now (and count it)."""
        ...

    async def close(self) -> None:
        """Release what the limiter holds (a Redis connection)."""
        ...


def rate_limiter_from_settings(
    settings: Settings, *, per_minute: float | None = None, burst: int | None = None
) -> RateLimiter:
    """Shared through Redis when REDIS_URL is set (several instances), else this process's.

    With the per-sender limit (RATE_LIMIT_*) unless `per_minute` and `burst` say otherwise.
    """
    if settings.REDIS_URL:
        return RedisRateLimiter.from_settings(settings, per_minute=per_minute, burst=burst)
    return LocalRateLimiter.from_settings(settings, per_minute=per_minute, burst=burst)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class LocalRateLimiter:
    """Token buckets in this process's memory (one gateway, or Redis unreachable)."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED_SENDERS,
    ) -> None:
        _check_limits(per_minute, burst)
        self._rate = per_minute / 60.0  # tokens per second
        self._burst = float(burst)
        self._clock = clock
        self._max_tracked = max_tracked
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, per_minute: float | None = None, burst: int | None = None
    ) -> LocalRateLimiter:
        return cls(
            per_minute=per_minute or settings.RATE_LIMIT_PER_MINUTE,
            burst=burst or settings.RATE_LIMIT_BURST,
        )

    async def allow(self, channel: str, address: str) -> bool:
        return self.allow_now(channel, address)

    def allow_now(self, channel: str, address: str) -> bool:
        """`allow`, for callers that cannot await (nothing here waits)."""
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

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Token buckets in Redis, one key per sender, shared by every gateway instance.

    A bucket's key expires once it would have refilled completely, so idle senders cost
    nothing. When Redis cannot be reached the check falls back to a bucket in this process.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_limits(per_minute, burst)
        self._redis = client
        self._prefix = prefix
        self._rate_per_ms = per_minute / 60_000.0
        self._burst = burst
        # Idle long enough to refill, a bucket is as good as absent; a second more for rounding.
        self._ttl_ms = min(math.ceil(burst / self._rate_per_ms) + 1000, MAX_BUCKET_TTL_MS)
        self._take_token = client.register_script(_BUCKET_SCRIPT)
        self._fallback = LocalRateLimiter(per_minute=per_minute, burst=burst, clock=clock)
        self._clock = clock
        self._warned_at: float | None = None
        # After a failure, Redis is not asked again for a while: the check runs inside the
        # transaction that stores the message, which must not wait on a Redis that is gone.
        self._skip_redis_until = float("-inf")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, per_minute: float | None = None, burst: int | None = None
    ) -> RedisRateLimiter:
        assert settings.REDIS_URL, "RedisRateLimiter needs REDIS_URL"
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            # One quick retry (a connection dropped by an idle timeout), not the client's
            # default of ten with backoff: a customer's message must not wait on Redis.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(
            client,
            prefix=settings.REDIS_PREFIX,
            per_minute=per_minute or settings.RATE_LIMIT_PER_MINUTE,
            burst=burst or settings.RATE_LIMIT_BURST,
        )

    def key(self, channel: str, address: str) -> str:
        """The bucket's Redis key.

        The address is hashed: it keeps phone numbers off key listings (they are guessable,
        so this hides rather than protects) and bounds the key's length.
        """
        digest = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
        return f"{self._prefix}:ratelimit:{channel}:{digest}"

    async def allow(self, channel: str, address: str) -> bool:
        if self._clock() < self._skip_redis_until:
            return self._fallback.allow_now(channel, address)
        try:
            allowed = await self._take_token(
                keys=[self.key(str(channel), address)],
                args=[repr(self._rate_per_ms), self._burst, self._ttl_ms],
            )
        except (RedisError, OSError) as error:
            # The limiter protects capacity; refusing every customer because Redis is down
            # would lose their messages, which is worse. Each instance limits on its own
            # until Redis is back (a sender gets at most one allowance per instance).
            self._warn_unavailable(error)
            self._skip_redis_until = self._clock() + REDIS_RETRY_AFTER_SECONDS
            return self._fallback.allow_now(channel, address)
        return bool(allowed)

    async def close(self) -> None:
        await self._redis.aclose()

    def _warn_unavailable(self, error: Exception) -> None:
        now = self._clock()
        if self._warned_at is not None and now - self._warned_at < FALLBACK_WARNING_SECONDS:
            return
        self._warned_at = now
        # Redis errors name the server or what failed; keys hold no address in clear anyway.
        logger.warning(
            "rate_limit.redis_unavailable fallback=in_process error=%s detail=%s",
            type(error).__name__,
            error,
        )


def _check_limits(per_minute: float, burst: int) -> None:
    if per_minute <= 0 or burst < 1:
        raise ValueError("per_minute must be positive and burst at least 1")
