"""The word from gateways to turn workers that customer messages wait: a Redis channel.

A worker that only polled would either poll often (a few per cent of a core each, idle) or
answer late. So a gateway that stored a message for the workers publishes one empty message on
`{REDIS_PREFIX}:turns` after the commit, and the workers, subscribed, look at once. The store
stays the truth: a lost signal (Redis away, a worker restarting) costs only latency, since
workers still look every `TURN_WORKER_POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class TurnSignal:
    """Rings (gateways) and waits for rings (workers) on one Redis channel."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._redis = client
        self._channel = channel
        self._rung = asyncio.Event()
        self._ringing = False
        self._again = False

    # Gateways ------------------------------------------------------------------------------

    async def ring(self) -> None:
        """Tell the workers; rings asked for while one is on its way are sent as one more."""
        if self._ringing:
            self._again = True
            return
        self._ringing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                await self._redis.publish(self._channel, b"")
        except (redis.RedisError, OSError) as error:
            # The workers find the message on their next look all the same.
            logger.debug("turn_signal.ring_failed error=%s", type(error).__name__)
        finally:
            self._ringing = False

    # Workers -------------------------------------------------------------------------------

    async def listen(self) -> None:
        """Note every ring until cancelled; a lost connection is opened again."""
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._rung.set()
            except (redis.RedisError, OSError) as error:
                logger.warning("turn_signal.listen_failed error=%s", type(error).__name__)
                await asyncio.sleep(RETRY_SECONDS)

    async def wait(self, timeout: float) -> None:
        """Until a ring since the last `wait`, or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rung.wait(), timeout)
        self._rung.clear()

    async def close(self) -> None:
        await self._redis.aclose()
