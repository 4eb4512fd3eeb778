"""Web chat over Socket.IO, speaking the event protocol of Rasa's socketio channel.

Client → server: `session_request {session_id}`, `user_uttered {message, session_id}`.
Server → client: `session_confirm`, `bot_uttered {text, quick_replies?, sender}`, and `error
{message}` for input we refuse. Every socket of a session joins a room named by the session id
(Rasa's "session persistence"), so a customer who reloads the page continues the same
conversation and gets later messages, a rep's reply included. Replies written while no socket
of the session is connected wait in the outbox until one reconnects. With several gateway
instances (Redis), presence is shared through `RedisPresence` and emits through Socket.IO's
Redis manager, so any instance can reach a customer connected to another.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
import socketio
from redis.exceptions import RedisError

from bot.inbox import Inbox, Taken
from bot.messages import Channel, InboundMessage, Reply
from bot.sending import ChannelSender, Offline, OutboundJob, Outcome, Sent
from bot.settings import Settings
from bot.text import clean_customer_text
from channels.contract import BackgroundLoop, ChannelDeps
from channels.webchat_presence import RedisPresence

logger = logging.getLogger(__name__)

NAMESPACE = "/"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def from_settings(settings: Settings, deps: ChannelDeps) -> WebChatChannel:
    """Web chat is always on; with REDIS_URL, presence is shared by the gateway instances."""
    presence = (
        RedisPresence(redis.Redis.from_url(settings.REDIS_URL), prefix=settings.REDIS_PREFIX)
        if settings.REDIS_URL
        else None
    )
    return WebChatChannel(
        deps.sio,
        max_message_chars=settings.MAX_MESSAGE_CHARS,
        inbox=deps.inbox,
        presence=presence,
    )


class WebChatChannel:
    """Both halves of the web chat channel, bound to one Socket.IO server."""

    name = "webchat"
    channel = Channel.WEBCHAT
    live = True  # see bot.outbox.LiveSender

    def __init__(
        self,
        sio: socketio.AsyncServer,
        *,
        max_message_chars: int,
        inbox: Inbox | None = None,
        presence: RedisPresence | None = None,
    ) -> None:
        self._sio = sio
        self.presence = presence  # None: this process's sockets are all there is
        self._joined: dict[str, set[str]] = {}  # sid → session ids it joined (with presence)
        self._max_chars = max_message_chars
        self._inbox = inbox  # None: outbound only
        sio.on("session_request", self._session_request)
        sio.on("user_uttered", self._user_uttered)
        sio.on("disconnect", self._disconnect)

    # The channel contract (channels/contract.py) ------------------------------------------

    def senders(self) -> Sequence[ChannelSender]:
        return (self,)

    def routes(self) -> None:
        return None  # Socket.IO at /socket.io, served by the gateway's ASGI app

    def loops(self) -> Sequence[BackgroundLoop]:
        if self.presence is None:
            return ()
        return (("webchat-presence", self.presence.run),)

    async def close(self) -> None:
        if self.presence is not None:
            await self.presence.close()

    # Inbound -------------------------------------------------------------------------------

    async def _session_request(self, sid: str, *args: Any) -> None:
        # A client may emit an event with no data, or with several arguments.
        data = args[0] if args else None
        requested = data.get("session_id") if isinstance(data, dict) else None
        if requested is None or requested == "":
            session_id = uuid.uuid4().hex
        elif isinstance(requested, str) and _SESSION_ID.match(requested):
            session_id = requested
        else:
            await self._error(sid, "session_id must be 1 to 128 letters, digits or -_.:")
            return
        await self._sio.save_session(sid, {"session_id": session_id})
        await self._join(sid, session_id)
        await self._sio.emit("session_confirm", session_id, to=sid)
        if self._inbox is not None:
            await self._inbox.came_back(Channel.WEBCHAT, session_id, reachable=self.reachable)

    async def _user_uttered(self, sid: str, *args: Any) -> None:
        data = args[0] if args else None
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            await self._error(sid, 'expected {"message": "<text>", "session_id": "<id>"}')
            return
        session_id = await self._session_id(sid, data)
        if session_id is None:
            await self._error(sid, "send session_request first, or include a valid session_id")
            return
        text = clean_customer_text(data["message"])
        if not text:
            return  # nothing to answer; the widget never sends empty messages
        if len(text) > self._max_chars:
            logger.info("webchat.message_too_long session_id=%s chars=%s", session_id, len(text))
            await self._error(
                sid,
                f"Your message is too long ({len(text):,} characters). Please keep it under "
                f"{self._max_chars:,} characters, or send it in parts.",
            )
            return
        assert self._inbox is not None, "an outbound-only web chat takes no messages"
        try:
            # Routed before this returns: the customer waits on the socket for the answer.
            taken = await self._inbox.take(
                InboundMessage(channel=Channel.WEBCHAT, address=session_id, text=text), now=True
            )
        except Exception:
            logger.exception("webchat.inbound_failed session_id=%s", session_id)
            await self._error(
                sid, "Sorry, we could not take your message just now. Please try again."
            )
            return
        if taken == Taken.RATE_LIMITED:
            logger.warning("rate_limited channel=%s session_id=%s", Channel.WEBCHAT, session_id)
            await self._error(
                sid,
                "You're sending messages too quickly. Please wait a moment, then try again.",
            )

    async def _session_id(self, sid: str, data: dict[str, Any]) -> str | None:
        given = data.get("session_id")
        if isinstance(given, str) and _SESSION_ID.match(given):
            # Rasa's widgets send the session id with each message; make sure this socket
            # gets the answers even if it skipped session_request.
            await self._join(sid, given)
            return given
        session = await self._sio.get_session(sid)
        found = session.get("session_id") if session else None
        return found if isinstance(found, str) else None

    async def _join(self, sid: str, session_id: str) -> None:
        await self._sio.enter_room(sid, session_id)
        if self.presence is None:
            return
        joined = self._joined.setdefault(sid, set())
        if session_id not in joined:
            joined.add(session_id)
            try:
                await self.presence.joined(session_id)
            except RedisError:
                # Counted here already: the next refresh records it once Redis is back.
                logger.exception("webchat.presence_join_failed session_id=%s", session_id)

    async def _disconnect(self, sid: str, *args: Any) -> None:
        if self.presence is None:
            return
        for session_id in self._joined.pop(sid, set()):
            try:
                await self.presence.left(session_id)
            except RedisError:
                # Redis away: the entry runs out by itself once no longer refreshed.
                logger.exception("webchat.presence_leave_failed session_id=%s", session_id)

    async def _error(self, sid: str, message: str) -> None:
        await self._sio.emit("error", {"message": message}, to=sid)

    # Outbound ------------------------------------------------------------------------------

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"text": reply.text, "sender": str(reply.sender_kind)}
        if reply.buttons:
            body["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload}
                for b in reply.buttons
            ]
        return [body]

    async def send(self, job: OutboundJob) -> Outcome:
        if not await self.reachable(job.address):
            return Offline()
        await self._sio.emit("bot_uttered", job.body, room=job.address)
        return Sent()

    async def reachable(self, address: str) -> bool:
        """A socket of this session is connected (to any instance, when presence is shared)."""
        if self.presence is None:
            return self._is_connected(address)
        try:
            return await self.presence.reachable(address)
        except RedisError as error:
            # Emits go through Redis too: nothing reaches the customer now. The reply waits
            # in the outbox and goes out when they reconnect.
            logger.warning("webchat.presence_unknown session_id=%s error=%s", address, error)
            return False

    def _is_connected(self, session_id: str) -> bool:
        return any(True for _ in self._sio.manager.get_participants(NAMESPACE, session_id))
