"""A stand-in of the Rasa gateway connector's HTTP API, for faults the real one won't make."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.net import free_port


@dataclass
class RasaStandIn:
    """Answers every turn with `reply`; `delay` seconds late; `status` other than 200 to fail."""

    reply: dict[str, Any] = field(
        default_factory=lambda: {
            "messages": [{"text": "Open My Orders to track it."}],
            "intent": {"name": "track_order", "confidence": 0.97},
            "entities": [],
            "slots": {},
        }
    )
    delay: float = 0.0
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def _turn(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"error": "stand-in failure"}, status=self.status)
        return web.json_response(self.reply)

    async def _ready(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})


@asynccontextmanager
async def running_rasa_standin(standin: RasaStandIn | None = None) -> AsyncIterator[RasaStandIn]:
    standin = standin or RasaStandIn()
    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", standin._turn)
    app.router.add_get("/webhooks/gateway/", standin._ready)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        await runner.cleanup()
