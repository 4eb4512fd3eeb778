"""Live updates for the console: a publish/subscribe hub for queue, message and delivery events.

Publishers (the router, queue operations, the delivery watcher) call `publish`, which never
blocks; each console's event stream holds a `subscribe()`. The hub is behind the small `LiveHub`
protocol so that several gateway instances can share one (Redis pub/sub) later: a networked hub
would send in the background from `publish` and feed subscribers from its listener.
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
