"""A stand-in of the echo vendor: records what the gateway sends to /messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.support.net import free_port


class EchoStandIn:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.url = ""

    async def _messages(self, request: web.Request) -> web.Response:
        self.sent.append(await request.json())
        return web.json_response({"id": f"E{len(self.sent)}"})


@asynccontextmanager
async def running_echo_standin() -> AsyncIterator[EchoStandIn]:
    standin = EchoStandIn()
    app = web.Application()
    app.router.add_post("/messages", standin._messages)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        await runner.cleanup()
