"""Redis for the scale tests: a key prefix of each test's own, cleared afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the test Redis database, cleared afterwards.

    Skips when Redis is unreachable, unless REQUIRE_REDIS is set (then the test fails).
    """
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except (redis.ConnectionError, OSError) as error:
        await client.aclose()
        if os.environ.get("REQUIRE_REDIS"):
            raise
        pytest.skip(f"Redis is not reachable at {TEST_REDIS_URL}: {error}")
    prefix = f"cc-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
