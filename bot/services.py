"""The gateway's long-lived parts, built once per process and shared by routes and channels."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import socketio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.outbox import Outbox
from bot.rasa_client import RasaClient
from bot.router import ConversationRouter
from bot.settings import Settings
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Conversation
from channels.webchat import WebChatChannel

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    rasa: RasaClient
    outbox: Outbox
    router: ConversationRouter
    sio: socketio.AsyncServer
    webchat: WebChatChannel
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
        """Send what waited for a web chat session while it was away."""
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
        await self.rasa.close()
        await self.engine.dispose()


def build_services(settings: Settings, sio: socketio.AsyncServer) -> Services:
    engine = create_engine(settings.DATABASE_URL)
    session_factory = create_session_factory(engine)
    rasa = RasaClient(settings.RASA_URL, timeout=settings.RASA_TIMEOUT_SECONDS)
    outbox = Outbox(session_factory)
    webchat = WebChatChannel(sio, max_message_chars=settings.MAX_MESSAGE_CHARS)
    outbox.register(webchat)
    # Vendor channels: each registers its sender here.
    router = ConversationRouter(
        session_factory=session_factory,
        rasa=rasa,
        outbox=outbox,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
    )
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        rasa=rasa,
        outbox=outbox,
        router=router,
        sio=sio,
        webchat=webchat,
    )
    webchat.attach(on_message=router.handle, on_reconnect=services.webchat_reconnected)
    return services
