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

from bot import system_texts
from bot.background import BackgroundTasks
from bot.events import Events
from bot.files.links import FileLinks, MediaLinks
from bot.files.store import file_store_from_settings
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
from bot.turn_signal import TurnSignal
from bot.turn_worker import WORKER_CHANNELS
from channels.contract import ChannelAdapter, ChannelDeps
from channels.registry import build_channels
from gateway.clocks import alerting, response_clock
from handoff.alerts.outbox import AlertOutbox
from handoff.auto_assign import AutoAssigner
from handoff.capacity import Capacity
from handoff.desk import RepDesk
from handoff.live import RedisHub
from handoff.monitor import SlaMonitor
from handoff.presence import PresenceRules
from handoff.routing import load_table

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
    alert_outbox: AlertOutbox | None = None  # supervisor alerts by webhook and email
    # Offers waiting conversations to available reps; started by the app's lifespan.
    assigner: AutoAssigner | None = None
    # With TURNS_IN_WORKERS: gateways ring it when messages wait, workers listen.
    turn_signal: TurnSignal | None = None
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
        if self.turn_signal is not None:
            await self.turn_signal.close()
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
    # First: a broken business hours file stops the start with the team and field named.
    clock = response_clock(settings, response_targets(settings))
    # Read and checked now: a slip in the support team's edit of locales/system_texts.yml
    # stops the start, naming the text, rather than a customer's turn later.
    system_texts.catalogue()
    # The routing table the support team edits: a mistake in it stops the start-up here.
    table = load_table(settings.ROUTING_TABLE_PATH)
    capacity = Capacity(chat=settings.REP_MAX_CHAT, messaging=settings.REP_MAX_MESSAGING)
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
    replies = ReplyService(
        session_factory,
        outbox,
        metrics=metrics,
        events=events,
        rep_reply_format=settings.REP_REPLY_FORMAT,
    )
    router = ConversationRouter(
        session_factory=session_factory,
        rasa=rasa,
        replies=replies,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        targets=targets,
        clock=clock,
        events=events,
        metrics=metrics,
        turn_lease=timedelta(seconds=settings.TURN_LEASE_SECONDS),
        route_max_attempts=settings.ROUTE_MAX_ATTEMPTS,
        # Several instances share the store only with Redis between them (README); workers
        # need it too (bot/settings.py).
        other_instances=settings.REDIS_URL is not None,
        privacy_notice=settings.PRIVACY_NOTICE,
        choose_team=table.team_for,
        episode_quiet=timedelta(hours=settings.EPISODE_QUIET_HOURS),
        come_back=timedelta(hours=settings.CONTAINMENT_COME_BACK_HOURS),
    )
    turn_signal = (
        TurnSignal(
            redis.Redis.from_url(settings.REDIS_URL), channel=f"{settings.REDIS_PREFIX}:turns"
        )
        if settings.TURNS_IN_WORKERS and settings.REDIS_URL
        else None
    )
    inbox = Inbox(
        session_factory=session_factory,
        router=router,
        replies=replies,
        outbox=outbox,
        rate_limiter=rate_limiter,
        background=background,
        routed_by_workers=WORKER_CHANNELS if settings.TURNS_IN_WORKERS else frozenset(),
        turn_signal=turn_signal,
    )
    files = file_store_from_settings(settings)
    file_links = FileLinks(settings.FILE_LINK_SECRET)
    channels = build_channels(
        settings,
        ChannelDeps(
            inbox=inbox,
            outbox=outbox,
            session_factory=session_factory,
            sio=sio,
            files=files,
            media_links=MediaLinks(
                file_links,
                base_url=settings.PUBLIC_BASE_URL,
                seconds=settings.MEDIA_LINK_SECONDS,
            ),
        ),
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
        files=files,
        file_links=file_links,
        file_link_seconds=settings.FILE_LINK_SECONDS,
        max_upload_bytes=settings.MAX_UPLOAD_BYTES,
        replies=replies,
        outbox=outbox,
        events=events,
        rasa=rasa,
        live=live,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        response_clock=clock,
        secure_cookies=settings.PUBLIC_BASE_URL.startswith("https://"),
        routing=table,
        capacity=capacity,
        whatsapp_template=bool(settings.TWILIO_WHATSAPP_TEMPLATE_SID),
        come_back=timedelta(hours=settings.CONTAINMENT_COME_BACK_HOURS),
        old_containment=settings.REPORTS_OLD_CONTAINMENT,
    )
    alerts, alert_outbox = alerting(settings, session_factory)
    monitor = SlaMonitor(
        session_factory,
        live=desk.live,
        targets=targets,
        interval=settings.SLA_MONITOR_INTERVAL_SECONDS,
        at_risk_fraction=settings.SLA_AT_RISK_FRACTION,
        retention_days=settings.RETENTION_DAYS,
        erase_tracker=rasa.erase_tracker,
        episode_quiet=timedelta(hours=settings.EPISODE_QUIET_HOURS),
        files=files,
        response_clock=clock,
        alerts=alerts,
        alert_outbox=alert_outbox,
        presence=PresenceRules(
            away_after=timedelta(minutes=settings.PRESENCE_AWAY_AFTER_MINUTES),
            grace=timedelta(minutes=settings.AWAY_GRACE_MINUTES),
        ),
    )
    assigner = AutoAssigner(
        session_factory,
        table,
        capacity=capacity,
        live=desk.live,
        interval=settings.AUTO_ASSIGN_INTERVAL_SECONDS,
        alerts=alerts,
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
        alert_outbox=alert_outbox,
        assigner=assigner,
        turn_signal=turn_signal,
        background=background,
    )
