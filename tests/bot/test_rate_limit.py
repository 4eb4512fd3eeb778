"""The per-sender token bucket in this process, on a clock the test moves.

The Redis-backed buckets, shared by gateway instances, are tested against a real Redis in
tests/scale/test_shared_rate_limit.py.
"""

from __future__ import annotations

import pytest

from bot.rate_limit import (
    LocalRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limiter_from_settings,
)
from tests.conftest import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _allow(limiter: RateLimiter, channel: str, address: str, times: int) -> list[bool]:
    return [await limiter.allow(channel, address) for _ in range(times)]


async def test_a_burst_is_allowed_then_refused_until_tokens_refill() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(per_minute=20, burst=10, clock=clock)
    assert await _allow(limiter, "sms", "+1", 12) == [True] * 10 + [False] * 2
    clock.now += 2.9  # 20 a minute: one token every 3 s
    assert not await limiter.allow("sms", "+1")
    clock.now += 0.2
    assert await limiter.allow("sms", "+1")
    assert not await limiter.allow("sms", "+1")


async def test_senders_and_channels_have_their_own_buckets() -> None:
    limiter = LocalRateLimiter(per_minute=1, burst=1, clock=Clock())
    assert await limiter.allow("sms", "+1")
    assert not await limiter.allow("sms", "+1")
    assert await limiter.allow("sms", "+2")
    assert await limiter.allow("whatsapp", "+1")


async def test_a_long_pause_refills_no_more_than_the_burst() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(per_minute=60, burst=2, clock=clock)
    assert await limiter.allow("webchat", "s")
    clock.now += 3600
    assert await _allow(limiter, "webchat", "s", 3) == [True, True, False]


async def test_the_number_of_tracked_senders_is_bounded() -> None:
    limiter = LocalRateLimiter(per_minute=1, burst=1, clock=Clock(), max_tracked=2)
    assert await limiter.allow("sms", "a")
    assert await limiter.allow("sms", "b")
    assert await limiter.allow("sms", "c")  # "a" is forgotten: it starts again with a full bucket
    assert await limiter.allow("sms", "a")
    assert not await limiter.allow("sms", "c")


async def test_settings_configure_it_and_nonsense_is_refused() -> None:
    limiter = rate_limiter_from_settings(
        make_settings("sqlite:///x.db", RATE_LIMIT_PER_MINUTE=60, RATE_LIMIT_BURST=1)
    )
    assert isinstance(limiter, LocalRateLimiter)
    assert await limiter.allow("sms", "+1") and not await limiter.allow("sms", "+1")
    with pytest.raises(ValueError, match="burst"):
        LocalRateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        LocalRateLimiter(per_minute=1, burst=0)


async def test_with_redis_configured_the_buckets_are_shared_through_it() -> None:
    limiter = rate_limiter_from_settings(
        make_settings("sqlite:///x.db", REDIS_URL="redis://127.0.0.1:6379/14", REDIS_PREFIX="p")
    )
    try:
        assert isinstance(limiter, RedisRateLimiter)  # no connection is made until used
        key = limiter.key("whatsapp", "whatsapp:+12465550100")
        assert key.startswith("p:ratelimit:whatsapp:") and "2465550100" not in key
    finally:
        await limiter.close()
