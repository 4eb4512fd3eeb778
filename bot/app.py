"""The gateway's ASGI app: FastAPI routes with the Socket.IO web chat mounted at /socket.io."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import socketio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from bot import health, metrics
from bot.logs import configure_logging
from bot.services import Services, build_services
from bot.settings import Settings, get_settings
from bot.store.migrate import ensure_schema_current
from channels import telegram
from handoff import oversight_web
from handoff import web as handoff_web

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
        # What exists now (code, settings, the model of every table) lives as long as the
        # process: kept out of the collector's way, full collections stop pausing turns for
        # tens of milliseconds every few seconds.
        gc.freeze()
        services.spawn(services.outbox.run(), name="outbox")
        services.spawn(_resume_pending_turns(services), name="resume-turns")
        if services.monitor is not None:
            services.spawn(services.monitor.run(), name="sla-monitor")
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
    api.include_router(metrics.router)
    # Vendor channels' webhook routes.
    api.include_router(
        telegram.webhook_router(services.telegram, secret_token=settings.TELEGRAM_SECRET_TOKEN)
    )
    api.include_router(services.twilio.routes())
    # The human queue: rep API under /api/, rep console under /console.
    handoff_web.install(api)
    # SLA watch, follow-ups, reports and export (API and console).
    oversight_web.install(api)
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
