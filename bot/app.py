"""The gateway's ASGI app: FastAPI routes with the Socket.IO web chat mounted at /socket.io."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import socketio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from bot import health
from bot.logs import configure_logging
from bot.services import Services, build_services
from bot.settings import Settings, get_settings
from bot.store.migrate import ensure_schema_current

logger = logging.getLogger(__name__)

WEBCHAT_STATIC = Path(__file__).resolve().parent.parent / "channels" / "webchat_static"


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """Build the gateway (uvicorn: `bot.app:create_app --factory`)."""
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    services = build_services(settings, sio)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_schema_current(services.engine)
        services.spawn(services.outbox.run(), name="outbox")
        services.spawn(_resume_pending_turns(services), name="resume-turns")
        logger.info("gateway.started rasa_url=%s", settings.RASA_URL)
        yield
        await services.close()
        logger.info("gateway.stopped")

    api = FastAPI(
        title="Caricom Connects intake assistant",
        summary="Gateway: channels, conversation log, human queue.",
        lifespan=lifespan,
    )
    api.state.services = services
    api.include_router(health.router)
    # Vendor channels' webhook routes.
    api.mount("/static/webchat", StaticFiles(directory=WEBCHAT_STATIC), name="webchat-static")

    @api.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        return FileResponse(WEBCHAT_STATIC / "index.html")

    return socketio.ASGIApp(sio, other_asgi_app=api, socketio_path="socket.io")


async def _resume_pending_turns(services: Services) -> None:
    """Route customer messages stored before a restart but never answered."""
    for conversation_id in await services.router.pending_conversations():
        logger.info("turn.resumed conversation_id=%s", conversation_id)
        services.process_in_background(conversation_id)
