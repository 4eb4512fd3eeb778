"""Which web chat sessions have a socket connected to some gateway instance (Redis).

With one gateway, Socket.IO's own rooms answer "is this customer here?". With several, the
customer's socket may be held by another instance, so each instance records the sessions it
holds in Redis: one sorted set per session, a member per instance holding it, scored with the
time that entry runs out. An instance refreshes its entries while their sockets stay connected,
so when an instance is killed its entries simply stop counting after `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter

import redis.asyncio as redis

from bot.loop_failures import LoopFailures

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 30.0


class RedisPresence:
    """Presence of web chat sessions across gateway instances, counted per instance."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        ttl: float = DEFAULT_TTL_SECONDS,
        instance_id: str | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl
        self.instance_id = instance_id or uuid.uuid4().hex
        self._held: Counter[str] = Counter()  # session id → sockets of it on this instance

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:webchat:presence:{session_id}"

    async def joined(self, session_id: str) -> None:
        """A socket of `session_id` joined on this instance."""
        self._held[session_id] += 1
        await self._mark([session_id])

    async def left(self, session_id: str) -> None:
        """A socket of `session_id` left this instance (disconnected)."""
        if self._held[session_id] > 1:
            self._held[session_id] -= 1
            return
        self._held.pop(session_id, None)
        await self._redis.zrem(self._key(session_id), self.instance_id)

    async def reachable(self, session_id: str) -> bool:
        """Some instance holds a socket of `session_id` and refreshed its entry in time."""
        count = await self._redis.zcount(self._key(session_id), time.time(), "+inf")
        return bool(count)

    async def refresh(self) -> None:
        """Extend this instance's entries for every session it still holds."""
        if self._held:
            await self._mark(list(self._held))

    async def run(self) -> None:
        """Background loop: refresh this instance's entries well before they run out."""
        failures = LoopFailures(logger, "webchat.presence_refresh_failed")
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self.refresh()
                failures.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures.failed(error)

    async def close(self) -> None:
        """Withdraw this instance's entries (a clean shutdown) and close the connection."""
        with contextlib.suppress(Exception):
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in self._held:
                    pipe.zrem(self._key(session_id), self.instance_id)
                await pipe.execute()
        self._held.clear()
        await self._redis.aclose()

    async def _mark(self, session_ids: list[str]) -> None:
        until = time.time() + self._ttl
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                key = self._key(session_id)
                pipe.zadd(key, {self.instance_id: until})
                # The set itself goes once no instance refreshes it any more.
                pipe.expire(key, int(self._ttl * 2) + 1)
            await pipe.execute()
