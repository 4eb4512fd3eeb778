"""A turn worker process (`caricom worker`): the gateway's core, without its web server.

Built from the same settings and `build_services` as a gateway, so a turn routed here is the
same turn (router, replies, outbox, events to the consoles through Redis), but it serves no
routes and runs no channel loops: it only takes vendor channels' messages from the store
(bot/turn_worker.py). Its own counters (turns, their times) are served on `--metrics-port`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import socketio
from prometheus_client import start_http_server

from bot.logs import configure_logging
from bot.settings import Settings
from bot.store.migrate import ensure_schema_current
from bot.turn_worker import TurnWorker
from gateway.services import Services, build_services
from handoff.live import RedisHub

logger = logging.getLogger(__name__)


@asynccontextmanager
async def started_worker(settings: Settings) -> AsyncIterator[tuple[Services, TurnWorker]]:
    """A worker's services, ready to route, and the worker to run; closed after the block."""
    services = build_services(settings, _emitter(settings))
    try:
        await ensure_schema_current(services.engine)
        if isinstance(services.desk.live, RedisHub):
            services.spawn(services.desk.live.run(), name="console-live")
        if services.turn_signal is not None:
            services.spawn(services.turn_signal.listen(), name="turn-signal")
        yield (
            services,
            TurnWorker(
                services.router,
                concurrency=settings.TURN_WORKER_CONCURRENCY,
                poll_seconds=settings.TURN_WORKER_POLL_SECONDS,
                sweep_seconds=settings.TURN_SWEEP_SECONDS,
                signal=services.turn_signal,
            ),
        )
    finally:
        await services.close()


async def run_worker(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Route vendor channels' turns until SIGTERM or SIGINT; in-flight claims are handed back."""
    configure_logging(settings.LOG_LEVEL)
    async with started_worker(settings) as (services, worker):
        gc.freeze()  # as in the gateway: long-lived objects out of the collector's way
        if metrics_port is not None:
            start_http_server(metrics_port, addr="127.0.0.1", registry=services.metrics.registry)
        work = asyncio.create_task(worker.run(), name="turn-worker")
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, work.cancel)
        logger.info(
            "worker.started concurrency=%s rasa_url=%s",
            settings.TURN_WORKER_CONCURRENCY,
            settings.RASA_URL,
        )
        with contextlib.suppress(asyncio.CancelledError):  # the stop signal
            await work
        logger.info("worker.stopped")


def _emitter(settings: Settings) -> socketio.AsyncServer:
    """A Socket.IO server that only emits, through Redis, to the gateways' connected clients."""
    assert settings.REDIS_URL is not None  # TURNS_IN_WORKERS needs it (bot/settings.py)
    manager = socketio.AsyncRedisManager(
        settings.REDIS_URL, channel=f"{settings.REDIS_PREFIX}:socketio", write_only=True
    )
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager)
