"""Web chat presence shared through Redis: counted per instance, running out with an instance."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
import socketio
from sqlalchemy.ext.asyncio import async_sessionmaker

from channels.webchat import WebChatChannel
from channels.webchat_presence import RedisPresence
from channels.webchat_sessions import WebChatSessions
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.net import free_port


def _presence(prefix: str, *, ttl: float = 30.0) -> RedisPresence:
    return RedisPresence(redis.Redis.from_url(TEST_REDIS_URL), prefix=prefix, ttl=ttl)


async def test_a_session_is_present_until_its_last_socket_leaves(redis_prefix: str) -> None:
    holder, other = _presence(redis_prefix), _presence(redis_prefix)
    try:
        assert not await other.reachable("s-1")
        await holder.joined("s-1")
        await holder.joined("s-1")  # a second tab
        assert await other.reachable("s-1")
        await holder.left("s-1")
        assert await other.reachable("s-1"), "one tab is still open"
        await holder.left("s-1")
        assert not await other.reachable("s-1")
    finally:
        await holder.close()
        await other.close()


async def test_a_session_held_by_two_instances_stays_while_either_holds_it(
    redis_prefix: str,
) -> None:
    first, second = _presence(redis_prefix), _presence(redis_prefix)
    try:
        await first.joined("s-2")
        await second.joined("s-2")
        await first.left("s-2")
        assert await first.reachable("s-2")
        await second.left("s-2")
        assert not await first.reachable("s-2")
    finally:
        await first.close()
        await second.close()


async def test_the_sessions_of_an_instance_that_stops_refreshing_run_out(
    redis_prefix: str,
) -> None:
    holder, other = _presence(redis_prefix, ttl=1.0), _presence(redis_prefix)
    refresher = asyncio.create_task(holder.run())
    try:
        await holder.joined("s-3")
        await asyncio.sleep(1.5)  # past the first expiry: kept by the refreshes
        assert await other.reachable("s-3")
        refresher.cancel()  # killed: no more refreshes
        await asyncio.sleep(1.2)
        assert not await other.reachable("s-3")
    finally:
        refresher.cancel()
        await holder.close()
        await other.close()


async def test_without_redis_a_reply_waits_instead_of_failing_the_turn() -> None:
    # Nothing listens on this port: every Redis call fails.
    down = RedisPresence(
        redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1),
        prefix="unreachable",
    )
    channel = WebChatChannel(
        socketio.AsyncServer(async_mode="asgi"),
        max_message_chars=100,
        sessions=WebChatSessions(async_sessionmaker()),  # no store: nobody connects here
        presence=down,
    )
    try:
        assert await channel.reachable("s-4") is False
    finally:
        await down.close()
