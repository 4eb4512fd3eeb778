"""The contract every channel implements, and what the gateway gives each one to build it.

A channel is one package (or module) under `channels/` with a `from_settings(settings, deps)`
factory listed once in `channels/registry.py`. The gateway builds every listed channel and
loops over them: it registers their senders with the outbox, serves their routes, runs their
background loops and closes them at shutdown. Inbound, a channel parses and verifies what its
vendor sends into an `InboundMessage` and hands it to `deps.inbox` (`Inbox.take`: stored once,
rate-limited, routed); outbound, its sender renders and sends replies (bot/sending.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import socketio
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files.links import MediaLinks
from bot.files.store import FileStore
from bot.inbox import Inbox
from bot.outbox import Outbox
from bot.sending import ChannelSender
from bot.settings import Settings

# A loop a channel runs for as long as the gateway does: its name and a way to start it.
BackgroundLoop = tuple[str, Callable[[], Coroutine[Any, Any, None]]]


@dataclass(frozen=True)
class ChannelDeps:
    """What the gateway gives every channel: the core parts a channel may use."""

    inbox: Inbox  # where inbound messages go (stored once, then routed)
    outbox: Outbox  # delivery news (a vendor's status callbacks)
    session_factory: async_sessionmaker[AsyncSession]  # the channel's own lookups
    sio: socketio.AsyncServer  # the gateway's Socket.IO server (live connections)
    files: FileStore  # where customers' uploads and reps' attachments are kept
    media_links: MediaLinks  # public expiring links to reps' files (Twilio media, web chat)


class ChannelAdapter(Protocol):
    """One channel as the gateway sees it."""

    # Its one name: its routes are under /channels/<name>/, its settings start with its
    # upper-cased name, its log records with `<name>.`.
    name: str

    def senders(self) -> Sequence[ChannelSender]:
        """The outbound halves, one per `bot.messages.Channel` it serves (none if unconfigured)."""
        ...

    def routes(self) -> APIRouter | None:
        """Its HTTP routes (webhooks), or None when the vendor does not call the gateway."""
        ...

    def loops(self) -> Sequence[BackgroundLoop]:
        """What it runs in the background while the gateway runs."""
        ...

    async def close(self) -> None:
        """Release its connections (the gateway is stopping)."""
        ...


class ChannelFactory(Protocol):
    def __call__(self, settings: Settings, deps: ChannelDeps) -> ChannelAdapter | None:
        """The channel built from its settings; None when it is switched off."""
        ...
