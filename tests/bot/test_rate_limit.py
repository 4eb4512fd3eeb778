"""The per-sender token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.rate_limit import RateLimiter
from tests.conftest import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused_until_tokens_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=20, burst=10, clock=clock)
    assert [limiter.allow("sms", "+1") for _ in range(12)] == [True] * 10 + [False] * 2
    clock.now += 2.9  # 20 a minute: one token every 3 s
    assert not limiter.allow("sms", "+1")
    clock.now += 0.2
    assert limiter.allow("sms", "+1")
    assert not limiter.allow("sms", "+1")


def test_senders_and_channels_have_their_own_buckets() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock())
    assert limiter.allow("sms", "+1")
    assert not limiter.allow("sms", "+1")
    assert limiter.allow("sms", "+2")
    assert limiter.allow("whatsapp", "+1")


def test_a_long_pause_refills_no_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert limiter.allow("webchat", "s")
    clock.now += 3600
    assert [limiter.allow("webchat", "s") for _ in range(3)] == [True, True, False]


def test_the_number_of_tracked_senders_is_bounded() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock(), max_tracked=2)
    assert limiter.allow("sms", "a")
    assert limiter.allow("sms", "b")
    assert limiter.allow("sms", "c")  # "a" is forgotten: it starts again with a full bucket
    assert limiter.allow("sms", "a")
    assert not limiter.allow("sms", "c")


def test_settings_configure_it_and_nonsense_is_refused() -> None:
    limiter = RateLimiter.from_settings(
        make_settings("sqlite:///x.db", RATE_LIMIT_PER_MINUTE=60, RATE_LIMIT_BURST=1)
    )
    assert limiter.allow("sms", "+1") and not limiter.allow("sms", "+1")
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(per_minute=0, burst=1)
