"""The gateway served by uvicorn inside the test's event loop, on a real loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from bot.settings import Settings
from gateway.app import create_app
from gateway.services import Services
from tests.support.net import free_port


@dataclass
class LiveGateway:
    url: str
    services: Services


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[LiveGateway]:
    """Serve the gateway for the block; its services are at hand for checks and pokes."""
    app = create_app(settings)
    services: Services = app.other_asgi_app.state.services
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error
        await asyncio.sleep(0.02)
    try:
        yield LiveGateway(url=f"http://127.0.0.1:{port}", services=services)
    finally:
        server.should_exit = True
        await task
