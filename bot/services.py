"""The gateway's long-lived parts, built once per process and shared by routes and channels."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import redis.asyncio as redis
import socketio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.rasa_client import RasaClient
from bot.rate_limit import RateLimiter, rate_limiter_from_settings
from bot.router import ConversationRouter
from bot.settings import Settings
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Conversation, Priority
from channels.telegram import TelegramChannel
from channels.twilio import TwilioChannel
from channels.webchat import WebChatChannel
from channels.webchat_presence import RedisPresence
from channels.webchat_sessions import WebChatSessions
from handoff.desk import RepDesk
from handoff.live import RedisHub
from handoff.monitor import SlaMonitor
from handoff.policy import set_response_targets

logger = logging.getLogger(__name__)

# A web chat customer who came back while the store was away: how soon, and then at most how
# often, to try again to send them what waited.
WEBCHAT_FLUSH_RETRY_SECONDS = 1.0
WEBCHAT_FLUSH_MAX_RETRY_SECONDS = 30.0


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    rasa: RasaClient
    outbox: Outbox
    router: ConversationRouter
    desk: RepDesk  # the human queue: live updates for consoles, login throttle
    sio: socketio.AsyncServer
    webchat: WebChatChannel
    twilio: TwilioChannel
    # Per-sender limits, one for every channel (shared through Redis across instances).
    rate_limiter: RateLimiter
    # Per client address on the web chat (many customers may share one address).
    webchat_address_limiter: RateLimiter
    telegram: TelegramChannel | None = None  # None without TELEGRAM_BOT_TOKEN
    monitor: SlaMonitor | None = None  # the SLA clock; started by the app's lifespan
    metrics: Metrics = field(default_factory=Metrics)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coroutine: object, *, name: str) -> None:
        """Run work in the background, keeping a reference so it is not collected mid-way."""
        task: asyncio.Task[None] = asyncio.create_task(coroutine, name=name)  # type: ignore[arg-type]
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background.failed task=%s", task.get_name(), exc_info=task.exception())

    def process_in_background(self, conversation_id: int) -> None:
        """Route a stored message after the vendor has been answered (acknowledge fast)."""
        self.spawn(self.router.process(conversation_id), name=f"turn-{conversation_id}")

    async def webchat_reconnected(self, session_id: str) -> None:
        """Send what waited for a web chat session while it was away (later, if it must).

        With the store away, tried again in the background while the session stays connected:
        the customer is here now and will not reconnect just to ask again.
        """
        try:
            await self._flush_webchat(session_id)
        except Exception as error:
            logger.warning("webchat.flush_deferred error=%s", type(error).__name__)
            # Named without the session id: task names reach the logs.
            self.spawn(self._flush_webchat_later(session_id), name="webchat-flush")

    async def _flush_webchat_later(self, session_id: str) -> None:
        """Retry the flush, backing off, until it is done or the session has gone."""
        delay = WEBCHAT_FLUSH_RETRY_SECONDS
        while True:
            await asyncio.sleep(delay)
            if not await self.webchat.reachable(session_id):
                return  # gone again: the next reconnect sends it
            try:
                await self._flush_webchat(session_id)
            except Exception as error:
                logger.debug("webchat.flush_failed error=%s", type(error).__name__)
                delay = min(delay * 2, WEBCHAT_FLUSH_MAX_RETRY_SECONDS)
            else:
                logger.info("webchat.flush_resumed")
                return

    async def _flush_webchat(self, session_id: str) -> None:
        async with self.session_factory() as session:
            conversation_id = await session.scalar(
                select(Conversation.id).where(
                    Conversation.channel == Channel.WEBCHAT, Conversation.address == session_id
                )
            )
        if conversation_id is not None:
            await self.outbox.flush_conversation(conversation_id)

    async def close(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.telegram is not None:
            await self.telegram.close()
        if self.webchat.presence is not None:
            await self.webchat.presence.close()
        await self.webchat.sessions.close()
        await _stop_socketio_manager(self.sio)
        if isinstance(self.desk.live, RedisHub):
            await self.desk.live.close()
        await self.twilio.close()
        await self.rate_limiter.close()
        await self.webchat_address_limiter.close()
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


def build_services(settings: Settings, sio: socketio.AsyncServer) -> Services:
    engine = create_engine(settings.DATABASE_URL)
    session_factory = create_session_factory(engine)
    rasa = RasaClient(
        settings.RASA_URL,
        timeout=settings.RASA_TIMEOUT_SECONDS,
        channel_token=settings.RASA_CHANNEL_TOKEN,
    )
    metrics = Metrics()
    rate_limiter = rate_limiter_from_settings(settings)
    webchat_address_limiter = rate_limiter_from_settings(
        settings,
        per_minute=settings.WEBCHAT_ADDRESS_PER_MINUTE,
        burst=settings.WEBCHAT_ADDRESS_BURST,
    )
    outbox = Outbox(
        session_factory,
        metrics=metrics,
        lease=timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
    )
    webchat = WebChatChannel(
        sio,
        max_message_chars=settings.MAX_MESSAGE_CHARS,
        sessions=WebChatSessions(
            session_factory,
            redis_client=(redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None),
            prefix=settings.REDIS_PREFIX,
        ),
        rate_limiter=rate_limiter,
        address_limiter=webchat_address_limiter,
        max_sessions_per_socket=settings.WEBCHAT_MAX_SESSIONS_PER_SOCKET,
        presence=(
            RedisPresence(redis.Redis.from_url(settings.REDIS_URL), prefix=settings.REDIS_PREFIX)
            if settings.REDIS_URL
            else None
        ),
    )
    outbox.register(webchat)
    # Vendor channels: each registers its sender here.
    telegram = (
        TelegramChannel(
            token=settings.TELEGRAM_BOT_TOKEN,
            api_base_url=settings.TELEGRAM_API_BASE_URL,
            session_factory=session_factory,
            promise_hours=settings.RESPONSE_PROMISE_HOURS,
        )
        if settings.TELEGRAM_BOT_TOKEN
        else None
    )
    if telegram is not None:
        outbox.register(telegram.sender)
    twilio = TwilioChannel(settings, session_factory, rate_limiter=rate_limiter)
    for sender in twilio.senders:
        outbox.register(sender)
    live = (
        RedisHub(
            redis.Redis.from_url(settings.REDIS_URL), channel=f"{settings.REDIS_PREFIX}:console"
        )
        if settings.REDIS_URL
        else None
    )
    desk = RepDesk.start(outbox, live=live)
    set_response_targets(
        {
            Priority.URGENT: settings.SLA_HOURS_URGENT,
            Priority.HIGH: settings.SLA_HOURS_HIGH,
            Priority.NORMAL: settings.SLA_HOURS_NORMAL,
            Priority.LOW: settings.SLA_HOURS_LOW,
        }
    )
    monitor = SlaMonitor(
        session_factory,
        live=desk.live,
        interval=settings.SLA_MONITOR_INTERVAL_SECONDS,
        at_risk_fraction=settings.SLA_AT_RISK_FRACTION,
        retention_days=settings.RETENTION_DAYS,
        erase_tracker=rasa.erase_tracker,
    )
    router = ConversationRouter(
        session_factory=session_factory,
        rasa=rasa,
        outbox=outbox,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        live=desk.live,
        metrics=metrics,
        turn_lease=timedelta(seconds=settings.TURN_LEASE_SECONDS),
        route_max_attempts=settings.ROUTE_MAX_ATTEMPTS,
        # Several instances share the store only with Redis between them (README).
        other_instances=settings.REDIS_URL is not None,
        privacy_notice=settings.PRIVACY_NOTICE,
    )
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        rasa=rasa,
        outbox=outbox,
        router=router,
        desk=desk,
        sio=sio,
        webchat=webchat,
        twilio=twilio,
        rate_limiter=rate_limiter,
        webchat_address_limiter=webchat_address_limiter,
        telegram=telegram,
        metrics=metrics,
        monitor=monitor,
    )
    webchat.attach(on_message=router.handle, on_reconnect=services.webchat_reconnected)
    twilio.attach(
        router=router, process=services.process_in_background, spawn=services.spawn, outbox=outbox
    )
    if telegram is not None:
        telegram.attach(router=router, background=services)
    return services
