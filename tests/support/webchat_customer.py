"""A web chat customer: a python-socketio client speaking Rasa's socketio protocol.

Like Rasa's widgets, it keeps the session id the gateway confirms, which is the one it asked
for only when the gateway issued that one before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from bot.webchat_address import webchat_address


class WebChatCustomer:
    def __init__(self, session_id: str | None = None) -> None:
        # Asked for in session_request; None asks the gateway for a new one.
        self.session_id = session_id
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.errors: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.confirmed: asyncio.Queue[str] = asyncio.Queue()
        self.client.on("bot_uttered", self.inbox.put_nowait)
        self.client.on("error", self.errors.put_nowait)
        self.client.on("session_confirm", self.confirmed.put_nowait)

    @property
    def address(self) -> str:
        """Its conversation's address in the store: the session id's hash."""
        assert self.session_id is not None, "not confirmed yet"
        return webchat_address(self.session_id)

    async def connect(self, url: str, *, request_session: bool = True) -> WebChatCustomer:
        await self.client.connect(url, transports=["websocket"])
        if request_session:
            await self.client.emit("session_request", {"session_id": self.session_id})
            self.session_id = await asyncio.wait_for(self.confirmed.get(), 5)
        return self

    async def say(
        self, text: str, *, expect: int = 1, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Send `text`; return the next `expect` bot messages (and any that follow at once)."""
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        return await self.receive(expect=expect, timeout=timeout)

    async def receive(self, *, expect: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        replies = [await asyncio.wait_for(self.inbox.get(), timeout) for _ in range(expect)]
        await asyncio.sleep(0.05)
        while not self.inbox.empty():
            replies.append(self.inbox.get_nowait())
        return replies

    async def close(self) -> None:
        await self.client.disconnect()
