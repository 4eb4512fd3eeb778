"""The gateway's long-lived parts, built once per process: the core, the channels, the queue.

This is the only place that knows everyone. The core (`bot/`) is built first; every channel in
`channels/registry.py` is built from the settings and looped over (senders to the outbox,
routes to the app, loops to the lifespan); the human queue's desk subscribes to the core's
events and the outbox's delivery changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import redis.asyncio as redis
import socketio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.background import BackgroundTasks
from bot.events import Events
from bot.inbox import Inbox
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.policy import ResponseTargets
from bot.rasa_client import RasaClient
from bot.rate_limit import RateLimiter, rate_limiter_from_settings
from bot.replies import ReplyService
from bot.router import ConversationRouter
from bot.settings import Settings
from bot.store.db import create_engine, create_session_factory
from channels.contract import ChannelAdapter, ChannelDeps
from channels.registry import build_channels
from handoff.desk import RepDesk
from handoff.live import RedisHub
from handoff.monitor import SlaMonitor

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    rasa: RasaClient
    outbox: Outbox
    replies: ReplyService  # the one reply path: turns, reps and the system's own messages
    router: ConversationRouter
    inbox: Inbox  # how every channel hands over its customers' messages
    channels: list[ChannelAdapter]  # every channel the settings switch on (channels/registry.py)
    desk: RepDesk  # the human queue: live updates for consoles, login throttle
    sio: socketio.AsyncServer
    # Per-sender limits, one for every channel (shared through Redis across instances).
    rate_limiter: RateLimiter
    targets: ResponseTargets
    monitor: SlaMonitor | None = None  # the SLA clock; started by the app's lifespan
    metrics: Metrics = field(default_factory=Metrics)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)

    def spawn(self, coroutine: object, *, name: str) -> None:
        """Run work in the background, keeping a reference so it is not collected mid-way."""
        self.background.spawn(coroutine, name=name)  # type: ignore[arg-type]

    def channel(self, name: str) -> ChannelAdapter:
        """The channel of that name (`ChannelAdapter.name`)."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r} is enabled")

    async def close(self) -> None:
        await self.background.cancel_all()
        for channel in self.channels:
            await channel.close()
        await _stop_socketio_manager(self.sio)
        if isinstance(self.desk.live, RedisHub):
            await self.desk.live.close()
        await self.rate_limiter.close()
        await self.rasa.close()
        self.desk.close()
        await self.engine.dispose()


async def _stop_socketio_manager(sio: socketio.AsyncServer) -> None:
    """End the Redis manager's listener and connection, if Socket.IO runs over Redis."""
    manager = sio.manager
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Future):
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    client = getattr(manager, "redis", None)
    if isinstance(client, redis.Redis):
        await client.aclose()


def response_targets(settings: Settings) -> ResponseTargets:
    """The internal response windows by priority (SLA_HOURS_*)."""
    return ResponseTargets.from_hours(
        urgent=settings.SLA_HOURS_URGENT,
        high=settings.SLA_HOURS_HIGH,
        normal=settings.SLA_HOURS_NORMAL,
        low=settings.SLA_HOURS_LOW,
    )


def build_services(settings: Settings, sio: socketio.AsyncServer) -> Services:
    engine = create_engine(settings.DATABASE_URL)
    session_factory = create_session_factory(engine)
    rasa = RasaClient(
        settings.RASA_URL,
        timeout=settings.RASA_TIMEOUT_SECONDS,
        channel_token=settings.RASA_CHANNEL_TOKEN,
    )
    metrics = Metrics()
    events = Events()
    background = BackgroundTasks()
    rate_limiter = rate_limiter_from_settings(settings)
    targets = response_targets(settings)
    outbox = Outbox(
        session_factory,
        metrics=metrics,
        lease=timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
    )
    replies = ReplyService(session_factory, outbox, metrics=metrics, events=events)
    router = ConversationRouter(
        session_factory=session_factory,
        rasa=rasa,
        replies=replies,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        targets=targets,
        events=events,
        metrics=metrics,
        turn_lease=timedelta(seconds=settings.TURN_LEASE_SECONDS),
        route_max_attempts=settings.ROUTE_MAX_ATTEMPTS,
        # Several instances share the store only with Redis between them (README).
        other_instances=settings.REDIS_URL is not None,
        privacy_notice=settings.PRIVACY_NOTICE,
        episode_quiet=timedelta(hours=settings.EPISODE_QUIET_HOURS),
        come_back=timedelta(hours=settings.CONTAINMENT_COME_BACK_HOURS),
    )
    inbox = Inbox(
        session_factory=session_factory,
        router=router,
        replies=replies,
        outbox=outbox,
        rate_limiter=rate_limiter,
        background=background,
    )
    channels = build_channels(
        settings,
        ChannelDeps(inbox=inbox, outbox=outbox, session_factory=session_factory, sio=sio),
    )
    for channel in channels:
        for sender in channel.senders():
            outbox.register(sender)
    live = (
        RedisHub(
            redis.Redis.from_url(settings.REDIS_URL), channel=f"{settings.REDIS_PREFIX}:console"
        )
        if settings.REDIS_URL
        else None
    )
    desk = RepDesk.start(
        session_factory=session_factory,
        replies=replies,
        outbox=outbox,
        events=events,
        rasa=rasa,
        live=live,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        secure_cookies=settings.PUBLIC_BASE_URL.startswith("https://"),
        come_back=timedelta(hours=settings.CONTAINMENT_COME_BACK_HOURS),
        old_containment=settings.REPORTS_OLD_CONTAINMENT,
    )
    monitor = SlaMonitor(
        session_factory,
        live=desk.live,
        targets=targets,
        interval=settings.SLA_MONITOR_INTERVAL_SECONDS,
        at_risk_fraction=settings.SLA_AT_RISK_FRACTION,
        retention_days=settings.RETENTION_DAYS,
        erase_tracker=rasa.erase_tracker,
        episode_quiet=timedelta(hours=settings.EPISODE_QUIET_HOURS),
    )
    return Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        rasa=rasa,
        outbox=outbox,
        replies=replies,
        router=router,
        inbox=inbox,
        channels=channels,
        desk=desk,
        sio=sio,
        rate_limiter=rate_limiter,
        targets=targets,
        metrics=metrics,
        monitor=monitor,
        background=background,
    )
