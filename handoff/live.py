"""Live updates for the console: a publish/subscribe hub for queue, message and delivery events.

Publishers (the router, queue operations, the delivery watcher) call `publish`, which never
blocks; each console's event stream holds a `subscribe()`. The hub is behind the small `LiveHub`
protocol: `InProcessHub` serves one gateway process; `RedisHub` lets several gateway instances
share one through Redis pub/sub, sending in the background from `publish` and feeding its
instance's subscribers from its listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """Something the console should show now; ids only, the console reads the rest itself."""

    kind: str  # "queue", "conversation", "message", "delivery", "resync"
    conversation_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(
            {"kind": self.kind, "conversation_id": self.conversation_id, **self.data},
            separators=(",", ":"),
        )


def queue_changed(conversation_id: int | None = None) -> LiveEvent:
    """A conversation entered, left or moved in a queue (its state or owner changed)."""
    return LiveEvent("queue", conversation_id)


def message_added(conversation_id: int, message_id: int, sender_kind: str) -> LiveEvent:
    return LiveEvent(
        "message", conversation_id, {"message_id": message_id, "sender_kind": sender_kind}
    )


def delivery_changed(conversation_id: int, message_id: int, status: str) -> LiveEvent:
    return LiveEvent("delivery", conversation_id, {"message_id": message_id, "status": status})


class Subscription(Protocol):
    async def next(self, *, timeout: float) -> LiveEvent | None:
        """The next event, or None when `timeout` seconds pass without one."""
        ...


class LiveHub(Protocol):
    def publish(self, event: LiveEvent) -> None:
        """Hand `event` to every subscriber; never blocks and never raises."""
        ...

    def subscribe(self) -> AbstractAsyncContextManager[Subscription]:
        """Receive events published from now on, until the block ends."""
        ...


class _Subscriber:
    def __init__(self, buffer: int) -> None:
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=buffer)

    def offer(self, event: LiveEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A console that stopped reading: drop what it missed and tell it to reload its
            # views, rather than let one slow reader hold memory or the publishers.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(LiveEvent("resync"))

    async def next(self, *, timeout: float) -> LiveEvent | None:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.queue.get(), timeout)
        return None


class InProcessHub:
    """The hub for one gateway process (the default, one-machine deployment)."""

    def __init__(self, *, buffer: int = 256) -> None:
        self._buffer = buffer
        self._subscribers: set[_Subscriber] = set()

    def publish(self, event: LiveEvent) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscriber = _Subscriber(self._buffer)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class RedisHub:
    """The hub shared by several gateway instances through one Redis pub/sub channel.

    `publish` queues the event for a background sender (never blocks); the listener hands what
    arrives on the channel, this instance's own events included, to local subscribers. After
    losing Redis, subscribers are told to resync: events published meanwhile were not seen.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        channel: str,
        buffer: int = 256,
        outgoing: int = 1000,
        retry_seconds: float = 1.0,
    ) -> None:
        self._redis = client
        self._channel = channel
        self._local = InProcessHub(buffer=buffer)
        self._outgoing: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=outgoing)
        self._retry_seconds = retry_seconds
        self.listening = asyncio.Event()  # set while subscribed to the channel

    def publish(self, event: LiveEvent) -> None:
        try:
            self._outgoing.put_nowait(event)
        except asyncio.QueueFull:
            logger.warning("live.redis_backlog_full dropped=%s", event.kind)

    def subscribe(self) -> AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe()

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count

    async def run(self) -> None:
        """Send and listen until cancelled (a background task of the gateway)."""
        await asyncio.gather(self._send_forever(), self._listen_forever())

    async def close(self) -> None:
        await self._redis.aclose()

    async def _send_forever(self) -> None:
        while True:
            event = await self._outgoing.get()
            body = json.dumps(
                {"kind": event.kind, "conversation_id": event.conversation_id, "data": event.data},
                separators=(",", ":"),
            )
            try:
                await self._redis.publish(self._channel, body)
            except redis.RedisError as error:
                logger.warning("live.redis_publish_failed kind=%s error=%s", event.kind, error)

    async def _listen_forever(self) -> None:
        lost = False
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.listening.set()
                    if lost:
                        self._local.publish(LiveEvent("resync"))
                        lost = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message["data"])
            except (redis.RedisError, OSError) as error:
                self.listening.clear()
                lost = True
                logger.warning("live.redis_listen_failed error=%s", error)
                await asyncio.sleep(self._retry_seconds)

    def _deliver(self, raw: bytes | str) -> None:
        try:
            body = json.loads(raw)
            event = LiveEvent(
                str(body["kind"]), body.get("conversation_id"), dict(body.get("data") or {})
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("live.redis_bad_event")
            return
        self._local.publish(event)
