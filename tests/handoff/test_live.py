"""Live updates: the in-process hub, and the console's event stream fed by router and queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx

from bot.messages import Channel, InboundMessage
from handoff.live import InProcessHub, LiveEvent, message_added, queue_changed
from tests.handoff.conftest import Desk
from tests.handoff.test_console import sign_in
from tests.support.net import eventually


async def test_every_subscriber_gets_what_is_published_after_it_subscribed() -> None:
    hub = InProcessHub()
    hub.publish(queue_changed(1))  # nobody listens yet: dropped
    async with hub.subscribe() as first, hub.subscribe() as second:
        hub.publish(message_added(7, 70, "customer"))
        for subscription in (first, second):
            event = await subscription.next(timeout=1)
            assert event == LiveEvent("message", 7, {"message_id": 70, "sender_kind": "customer"})
            assert await subscription.next(timeout=0.01) is None
    assert hub.subscriber_count == 0


async def test_a_reader_that_falls_behind_is_told_to_resync() -> None:
    hub = InProcessHub(buffer=3)
    async with hub.subscribe() as slow:
        for i in range(10):
            hub.publish(queue_changed(i))
        event = await slow.next(timeout=1)
        assert event is not None and event.kind == "resync"


async def _events(http: httpx.AsyncClient) -> AsyncIterator[dict[str, object]]:
    async with http.stream("GET", "/console/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind:
                yield {"event": kind, **json.loads(line[len("data: ") :])}


async def test_the_console_stream_shows_queue_changes_and_customer_messages(desk: Desk) -> None:
    await desk.rep("ann")
    await sign_in(desk, "ann")
    cid = await desk.queued("customer-1")
    seen: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def listen() -> None:
        async for event in _events(desk.http):
            await seen.put(event)

    listener = asyncio.create_task(listen())
    try:
        await eventually(lambda: desk.services.desk.live.subscriber_count > 0)
        token = await desk.auth("ann")
        await desk.http.post(f"/api/conversations/{cid}/claim", headers=token)
        assert await asyncio.wait_for(seen.get(), 5) == {
            "event": "queue",
            "kind": "queue",
            "conversation_id": cid,
        }
        # A customer message while a rep owns the conversation reaches the console at once.
        await desk.services.router.handle(
            InboundMessage(channel=Channel.WEBCHAT, address="customer-1", text="hello?")
        )
        event = await asyncio.wait_for(seen.get(), 5)
        assert (event["event"], event["conversation_id"], event["sender_kind"]) == (
            "message",
            cid,
            "customer",
        )
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
