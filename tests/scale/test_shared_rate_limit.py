"""Per-sender rate limits kept in Redis: one allowance per sender across gateway instances."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from bot.messages import SenderKind
from bot.rate_limit import RedisRateLimiter, rate_limiter_from_settings
from bot.store.models import Message
from tests.conftest import make_settings
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually, free_port
from tests.support.rasa_standin import running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer

# Slow enough that no token comes back while a test runs (one every ten hours).
NO_REFILL = 0.1 / 60

LimiterFactory = Callable[..., RedisRateLimiter]


@pytest.fixture
async def limiters(redis_prefix: str) -> AsyncIterator[LimiterFactory]:
    """Build limiters on the test Redis, each with a connection of its own (an instance each)."""
    made: list[RedisRateLimiter] = []

    def make(*, per_minute: float = NO_REFILL, burst: int = 3) -> RedisRateLimiter:
        limiter = RedisRateLimiter(
            redis.Redis.from_url(TEST_REDIS_URL),
            prefix=redis_prefix,
            per_minute=per_minute,
            burst=burst,
        )
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


async def test_a_burst_is_allowed_then_refused_and_the_bucket_expires_when_idle(
    limiters: LimiterFactory,
) -> None:
    limiter = limiters(per_minute=20, burst=3)
    allowed = [await limiter.allow("sms", "+12465550100") for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        # Full again 9 s after (one token every 3 s): the key goes then, with 1 s of slack.
        ttl_ms = await client.pttl(limiter.key("sms", "+12465550100"))
        assert 0 < ttl_ms <= 10_000
    finally:
        await client.aclose()


async def test_tokens_come_back_at_the_configured_rate(limiters: LimiterFactory) -> None:
    limiter = limiters(per_minute=30, burst=1)  # one token every 2 s
    assert await limiter.allow("webchat", "s1")
    assert not await limiter.allow("webchat", "s1")
    assert await eventually(lambda: limiter.allow("webchat", "s1"), timeout=10, interval=0.2)
    assert not await limiter.allow("webchat", "s1")  # one came back, not the whole burst


async def test_two_instances_share_one_allowance(limiters: LimiterFactory) -> None:
    a, b = limiters(burst=4), limiters(burst=4)
    assert [await a.allow("sms", "+1"), await b.allow("sms", "+1")] == [True, True]
    assert [await a.allow("sms", "+1"), await b.allow("sms", "+1")] == [True, True]
    assert [await a.allow("sms", "+1"), await b.allow("sms", "+1")] == [False, False]
    # Taken at the same moment from both: still exactly the burst goes through.
    results = await asyncio.gather(*(x.allow("telegram", "42") for x in (a, b) * 20))
    assert sum(results) == 4


async def test_a_flooding_sender_does_not_use_up_anothers_allowance(
    limiters: LimiterFactory,
) -> None:
    a, b = limiters(burst=3), limiters(burst=3)
    flood = await asyncio.gather(*(x.allow("webchat", "flooder") for x in (a, b) * 50))
    assert sum(flood) == 3
    assert [await b.allow("webchat", "someone-else") for _ in range(3)] == [True] * 3
    assert await a.allow("sms", "flooder")  # the same address on another channel is another


async def test_with_redis_down_messages_go_through_on_this_instances_bucket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(
        "sqlite:///unused.db",
        REDIS_URL=nothing_listens,
        RATE_LIMIT_BURST=2,
        RATE_LIMIT_PER_MINUTE=1,
    )
    limiter = rate_limiter_from_settings(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.rate_limit"):
            allowed = [await limiter.allow("sms", "+1") for _ in range(3)]
            assert await limiter.allow("sms", "+2")
    finally:
        await limiter.close()
    assert allowed == [True, True, False]  # still limited, by this process alone
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1  # not one per message
    assert warnings[0].startswith("rate_limit.redis_unavailable fallback=in_process")


async def test_the_redis_down_warning_repeats_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    limiter = RedisRateLimiter(
        redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"),
        prefix="unused",
        per_minute=60,
        burst=100,
        clock=lambda: now[0],
    )
    try:
        with caplog.at_level(logging.WARNING, logger="bot.rate_limit"):
            for moment in (0.0, 30.0, 61.0, 90.0, 122.0):
                now[0] = moment
                assert await limiter.allow("sms", "+1")
    finally:
        await limiter.close()
    assert len(caplog.records) == 3  # at 0, 61 and 122 s


async def test_a_failed_redis_is_left_alone_for_a_while_then_asked_again() -> None:
    """Each ask of a Redis that is gone can cost a timeout, inside the message's transaction."""
    now = [0.0]
    limiter = RedisRateLimiter(
        redis.Redis.from_url(TEST_REDIS_URL),
        prefix="unused",
        per_minute=60,
        burst=100,
        clock=lambda: now[0],
    )
    asked: list[float] = []

    async def redis_gone(**_: object) -> int:
        asked.append(now[0])
        raise redis.ConnectionError("gone")

    limiter._take_token = redis_gone  # type: ignore[assignment]
    try:
        for moment in (0.0, 1.0, 4.9, 5.1, 6.0):
            now[0] = moment
            assert await limiter.allow("sms", "+1")
    finally:
        await limiter.close()
    assert asked == [0.0, 5.1]


@pytest.mark.postgres
async def test_two_gateways_give_a_sender_one_allowance_between_them(
    postgres_url: str, redis_prefix: str
) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(
            postgres_url,
            rasa.url,
            REDIS_URL=TEST_REDIS_URL,
            REDIS_PREFIX=redis_prefix,
            RATE_LIMIT_BURST=3,
            RATE_LIMIT_PER_MINUTE=NO_REFILL,
        )
        async with running_gateway(settings) as a, running_gateway(settings) as b:
            # One customer, a tab on each instance.
            tab_a = await WebChatCustomer().connect(a.url)
            # Issued by a, accepted by b (the issued ids are shared through Redis).
            tab_b = await WebChatCustomer(session_id=tab_a.session_id).connect(b.url)
            assert tab_b.session_id == tab_a.session_id
            try:
                for n in range(6):
                    tab = tab_a if n % 2 else tab_b
                    await tab.client.emit(
                        "user_uttered", {"message": f"message {n}", "session_id": tab.session_id}
                    )
                await eventually(lambda: tab_a.errors.qsize() + tab_b.errors.qsize() == 3)
                await eventually(lambda: _customer_texts_stored(a, 3))
            finally:
                await tab_a.close()
                await tab_b.close()
            stored = await _customer_texts(a)
    assert len(stored) == 3  # per instance, it would have been all six


async def _customer_texts(gateway: LiveGateway) -> list[str]:
    async with gateway.services.session_factory() as session:
        rows = await session.scalars(
            select(Message.text).where(Message.sender_kind == SenderKind.CUSTOMER)
        )
        return list(rows)


async def _customer_texts_stored(gateway: LiveGateway, count: int) -> bool:
    return len(await _customer_texts(gateway)) == count
