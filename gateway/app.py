"""The gateway's ASGI app: FastAPI routes with the Socket.IO web chat mounted at /socket.io."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import socketio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from bot import language_id, metrics
from bot.body_limit import BodySizeLimit
from bot.logs import configure_logging
from bot.loop_failures import LoopFailures
from bot.settings import Settings, get_settings
from bot.store.migrate import ensure_schema_current
from bot.turn_worker import LIVE_CHANNELS
from channels.webchat import socket_buffer_bytes
from channels.webchat_uploads import UPLOAD_PATH
from gateway import health
from gateway.media import media_router
from gateway.services import Services, build_services
from handoff import oversight_web
from handoff import web as handoff_web
from handoff.api.files import REP_FILES_PATH
from handoff.live import RedisHub

logger = logging.getLogger(__name__)

WEBCHAT_STATIC = Path(__file__).resolve().parent.parent / "channels" / "webchat_static"


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """Build the gateway (uvicorn: `gateway.app:create_app --factory`)."""
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins="*",
        client_manager=_client_manager(settings),
        max_http_buffer_size=socket_buffer_bytes(settings.MAX_MESSAGE_CHARS),
    )
    services = build_services(settings, sio)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_schema_current(services.engine)
        # The language detectors (a second of loading) before the first customer's message,
        # and before the freeze below, which then keeps them out of the collector's way.
        await asyncio.to_thread(language_id.load)
        # What exists now (code, settings, the model of every table) lives as long as the
        # process: kept out of the collector's way, full collections stop pausing turns for
        # tens of milliseconds every few seconds.
        gc.freeze()
        services.spawn(services.outbox.run(), name="outbox")
        for channel in services.channels:
            for name, loop in channel.loops():
                services.spawn(loop(), name=name)
        if isinstance(services.desk.live, RedisHub):
            services.spawn(services.desk.live.run(), name="console-live")
        services.spawn(
            _resume_pending_turns(services, every=settings.TURN_SWEEP_SECONDS),
            name="resume-turns",
        )
        if services.monitor is not None:
            services.spawn(services.monitor.run(), name="sla-monitor")
        if services.alert_outbox is not None and services.alert_outbox.senders:
            services.spawn(services.alert_outbox.run(), name="alert-outbox")
        if services.assigner is not None:
            services.spawn(services.assigner.run(), name="auto-assign")
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
    api.state.desk = services.desk  # what the human queue's routes use (handoff/deps.py)
    api.include_router(health.router)
    api.include_router(metrics.router)
    api.include_router(media_router(services.desk.files, services.desk.file_links))
    # Every channel's webhook routes (under /channels/<name>/).
    for channel in services.channels:
        routes = channel.routes()
        if routes is not None:
            api.include_router(routes)
    # The human queue: rep API under /api/, rep console under /console.
    handoff_web.install(api)
    # SLA watch, follow-ups, reports and export (API and console).
    oversight_web.install(api)
    # Vendor webhooks carry a short message each; the rep API small JSON documents.
    api.add_middleware(
        BodySizeLimit,
        limits=(
            (UPLOAD_PATH, settings.MAX_UPLOAD_BYTES),
            (REP_FILES_PATH, settings.MAX_UPLOAD_BYTES),
            ("/channels/", settings.MAX_WEBHOOK_BODY_BYTES),
            ("/api/", settings.MAX_API_BODY_BYTES),
            ("/console/", settings.MAX_API_BODY_BYTES),
        ),
    )
    api.mount("/static/webchat", StaticFiles(directory=WEBCHAT_STATIC), name="webchat-static")

    @api.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        return FileResponse(WEBCHAT_STATIC / "index.html")

    return socketio.ASGIApp(sio, other_asgi_app=api, socketio_path="socket.io")


def _client_manager(settings: Settings) -> socketio.AsyncManager | None:
    """Socket.IO over Redis when several instances share customers; else this process only."""
    if not settings.REDIS_URL:
        return None
    return socketio.AsyncRedisManager(
        settings.REDIS_URL, channel=f"{settings.REDIS_PREFIX}:socketio"
    )


async def _resume_pending_turns(services: Services, *, every: float) -> None:
    """Route customer messages no instance is routing: at start-up, then every `every` seconds.

    At start-up: what was stored before a restart but never answered. Later: what an instance
    that died mid-turn left (its lease ran out), or what waited past `every` seconds unrouted.
    Several instances may find the same message; claiming it lets only one route it.
    """
    older_than = timedelta(0)
    failures = LoopFailures(logger, "turn.sweep_failed")
    # With workers, they take the vendor channels' messages; this process only its live ones.
    channels = LIVE_CHANNELS if services.settings.TURNS_IN_WORKERS else None
    while True:
        try:
            for conversation_id in await services.router.pending_conversations(
                older_than=older_than, channels=channels
            ):
                if services.router.is_processing(conversation_id):
                    continue  # this process is on it; its loop takes the rest
                logger.info("turn.resumed conversation_id=%s", conversation_id)
                services.inbox.route_later(conversation_id)
            failures.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A store outage must not end the loop: log and look again next time.
            failures.failed(error)
        older_than = timedelta(seconds=every)
        await asyncio.sleep(every)
