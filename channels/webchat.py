"""Web chat over Socket.IO, speaking the event protocol of Rasa's socketio channel.

Client → server: `session_request {session_id}`, `user_uttered {message, session_id}`.
Server → client: `session_confirm`, `bot_uttered` and `error {message}` for input we refuse.
`bot_uttered` has exactly the keys Rasa's socketio channel gives that kind of message (`{text}`,
`{text, quick_replies}`, `{attachment}`) plus `metadata`: Rasa's widgets pick a message's kind by
its keys and pass `metadata` through, so who wrote it (`metadata.sender`: bot, rep or system) and
anything else of ours travels there. A `user_uttered` without a message (a widget's unset init
payload) is ignored silently, as Rasa's own channel does.

The session id is a secret the server issues (see channels/webchat_sessions.py): a presented one
the server did not issue is answered with a new one in `session_confirm`, and it is never logged.
Every socket of a session joins a room named by the session's address, the id's hash
(bot/webchat_address.py: the store never holds the id) (Rasa's "session persistence"),
so a customer who reloads the page continues the same conversation and gets later messages, a
rep's reply included. Replies written while no socket of the session is connected wait in the
outbox until one reconnects. With several
gateway instances (Redis), presence is shared through `RedisPresence` and emits through
Socket.IO's Redis manager, so any instance can reach a customer connected to another.

Limits: a message is measured before it is cleaned, one socket speaks for a few sessions at
most, and messages are counted per socket and per client address as well as per session, so
neither a new session nor a new socket buys a fresh allowance.

Errors a customer reads (too quick, too long, not taken) are in the customer's language as
the connection knows it: the browser's (Accept-Language when it connects, or the language the
widget sends with a message), else English. Errors only a broken client can cause (malformed
events) stay English: they are for developers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
import socketio
from fastapi import APIRouter
from redis.exceptions import RedisError

from bot import system_texts
from bot.files.links import MediaLinks
from bot.files.store import FileStore
from bot.inbox import Inbox, Taken
from bot.languages import from_hint, is_supported
from bot.messages import Channel, InboundMessage, Reply
from bot.rate_limit import RateLimiter, rate_limiter_from_settings
from bot.sending import ChannelSender, Offline, OutboundJob, Outcome, Sent
from bot.settings import Settings
from bot.system_texts import TextKey
from bot.text import clean_customer_text
from bot.webchat_address import webchat_address
from channels.contract import BackgroundLoop, ChannelDeps
from channels.webchat_presence import RedisPresence
from channels.webchat_sessions import WebChatSessions
from channels.webchat_shapes import rasa_shaped, with_metadata
from channels.webchat_uploads import upload_routes

logger = logging.getLogger(__name__)

NAMESPACE = "/"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# Rate-limit keys beside the sessions' own (Channel.WEBCHAT and the session id, bot/inbox.py).
SOCKET_LIMIT = "webchat-socket"
CLIENT_ADDRESS_LIMIT = "webchat-address"


def from_settings(settings: Settings, deps: ChannelDeps) -> WebChatChannel:
    """Web chat is always on; with REDIS_URL, presence, issued session ids and the limits per
    connection and client address are shared by the gateway instances."""
    presence = (
        RedisPresence(redis.Redis.from_url(settings.REDIS_URL), prefix=settings.REDIS_PREFIX)
        if settings.REDIS_URL
        else None
    )
    return WebChatChannel(
        deps.sio,
        max_message_chars=settings.MAX_MESSAGE_CHARS,
        sessions=WebChatSessions(
            deps.session_factory,
            redis_client=(redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None),
            prefix=settings.REDIS_PREFIX,
        ),
        inbox=deps.inbox,
        # A connection is one customer: it gets one sender's allowance (RATE_LIMIT_*).
        socket_limiter=rate_limiter_from_settings(settings),
        address_limiter=rate_limiter_from_settings(
            settings,
            per_minute=settings.WEBCHAT_ADDRESS_PER_MINUTE,
            burst=settings.WEBCHAT_ADDRESS_BURST,
        ),
        max_sessions_per_socket=settings.WEBCHAT_MAX_SESSIONS_PER_SOCKET,
        presence=presence,
        uploads=Uploads(
            files=deps.files,
            limiter=rate_limiter_from_settings(
                settings, per_minute=settings.UPLOAD_RATE_PER_MINUTE, burst=settings.UPLOAD_BURST
            ),
            max_bytes=settings.MAX_UPLOAD_BYTES,
            media_links=deps.media_links,
        ),
    )


@dataclass(frozen=True)
class Uploads:
    """What taking customers' files needs (channels/webchat_uploads.py)."""

    files: FileStore
    limiter: RateLimiter  # uploads per session (UPLOAD_RATE_PER_MINUTE, UPLOAD_BURST)
    max_bytes: int  # MAX_UPLOAD_BYTES
    media_links: MediaLinks | None = None  # links to reps' files sent to the customer


# A BCP 47 tag as browsers give it (navigator.language: "es-419", "fr-HT", "nl"); anything
# else the widget or another client sends is ignored.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")


def browser_language(data: dict[str, Any]) -> str | None:
    """The browser's language from a message's metadata (`{"metadata": {"language": …}}`, as
    the widget sends it), None when absent or not a language tag."""
    metadata = data.get("metadata")
    language = metadata.get("language") if isinstance(metadata, dict) else None
    if isinstance(language, str) and _LANGUAGE_TAG.match(language):
        return language
    return None


def _accepted_language(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The browser's first language in Accept-Language ("es-419,es;q=0.9" → "es-419")."""
    for name, value in headers:
        if name.lower() == b"accept-language":
            first = value.decode("latin-1").split(",")[0].split(";")[0].strip()
            return first if _LANGUAGE_TAG.match(first) else None
    return None


def socket_buffer_bytes(max_message_chars: int) -> int:
    """The largest Socket.IO packet worth reading (engine.io's max_http_buffer_size).

    The longest message allowed, escaped at worst (a character outside the basic plane is
    12 bytes as two JSON \\u escapes), plus the event's envelope: anything larger is refused
    by engine.io before it is read whole, let alone parsed.
    """
    return max_message_chars * 12 + 1024


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
        sessions: WebChatSessions,
        inbox: Inbox | None = None,
        socket_limiter: RateLimiter | None = None,
        address_limiter: RateLimiter | None = None,
        max_sessions_per_socket: int = 3,
        presence: RedisPresence | None = None,
        uploads: Uploads | None = None,
    ) -> None:
        self._sio = sio
        self._uploads = uploads  # None: no files taken (outbound only, or a test)
        self.sessions = sessions
        self.presence = presence  # None: this process's sockets are all there is
        self._joined: dict[str, set[str]] = {}  # sid → session ids it joined
        self._client_address: dict[str, str] = {}  # sid → the client's address
        self._language: dict[str, str] = {}  # sid → the browser's language, when supported
        self._max_chars = max_message_chars
        self._max_sessions = max_sessions_per_socket
        # Per connection and per client address, before the store; per session, the inbox's.
        self._socket_limiter = socket_limiter
        self._address_limiter = address_limiter
        self._inbox = inbox  # None: outbound only
        sio.on("connect", self._connect)
        sio.on("session_request", self._session_request)
        sio.on("user_uttered", self._user_uttered)
        sio.on("disconnect", self._disconnect)

    # The channel contract (channels/contract.py) ------------------------------------------

    def senders(self) -> Sequence[ChannelSender]:
        return (self,)

    def routes(self) -> APIRouter | None:
        # Socket.IO at /socket.io is served by the gateway's ASGI app; files come over HTTP.
        if self._uploads is None or self._inbox is None:
            return None
        return upload_routes(
            sessions=self.sessions,
            inbox=self._inbox,
            files=self._uploads.files,
            limiter=self._uploads.limiter,
            max_bytes=self._uploads.max_bytes,
        )

    def loops(self) -> Sequence[BackgroundLoop]:
        if self.presence is None:
            return ()
        return (("webchat-presence", self.presence.run),)

    async def close(self) -> None:
        if self.presence is not None:
            await self.presence.close()
        await self.sessions.close()
        upload_limiter = self._uploads.limiter if self._uploads is not None else None
        for limiter in (self._socket_limiter, self._address_limiter, upload_limiter):
            if limiter is not None:
                await limiter.close()

    # Inbound -------------------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], *args: Any) -> None:
        # The ASGI scope's client, which uvicorn has already taken from X-Forwarded-For when
        # the request came through a trusted proxy (FORWARDED_ALLOW_IPS).
        scope = environ.get("asgi.scope") or {}
        client = scope.get("client")
        self._client_address[sid] = str(client[0]) if client else "unknown"
        self._note_language(sid, _accepted_language(scope.get("headers") or []))

    async def _session_request(self, sid: str, *args: Any) -> None:
        # A client may emit an event with no data, or with several arguments.
        data = args[0] if args else None
        requested = data.get("session_id") if isinstance(data, dict) else None
        if (
            requested is not None
            and requested != ""
            and not (isinstance(requested, str) and _SESSION_ID.match(requested))
        ):
            await self._error(sid, "session_id must be 1 to 128 letters, digits or -_.:")
            return
        joined = self._joined.get(sid, set())
        try:
            known = (
                isinstance(requested, str)
                and bool(requested)
                and (requested in joined or await self.sessions.accepts(requested))
            )
        except Exception:
            # The store is away: a new id would cut the customer off their conversation, so
            # they are asked to try again (the widget does, on its next reconnect).
            logger.exception("webchat.session_check_failed sid=%s", sid)
            await self._say(sid, TextKey.WEBCHAT_OPEN_FAILED)
            return
        if known and isinstance(requested, str):
            session_id = requested
        elif len(joined) >= self._max_sessions:
            await self._too_many_sessions(sid)
            return
        else:
            # None asked for, or one no gateway issued: a new one, confirmed below.
            session_id = await self.sessions.issue()
        if not await self._join(sid, session_id):
            await self._too_many_sessions(sid)
            return
        await self._sio.save_session(sid, {"session_id": session_id})
        await self._sio.emit("session_confirm", session_id, to=sid)
        if self._inbox is not None:
            await self._inbox.came_back(
                Channel.WEBCHAT, webchat_address(session_id), reachable=self.reachable
            )

    async def _user_uttered(self, sid: str, *args: Any) -> None:
        data = args[0] if args else None
        if isinstance(data, dict) and data.get("message") in (None, ""):
            # Rasa widgets send their init payload on connecting, and an unset one arrives as
            # no message at all; Rasa's channel passes it on as nothing, so nothing is said.
            logger.debug("webchat.empty_message_ignored sid=%s", sid)
            return
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            await self._error(sid, 'expected {"message": "<text>", "session_id": "<id>"}')
            return
        self._note_language(sid, browser_language(data))
        # Measured as sent: cleaning a huge message would cost the work the limit saves.
        if len(data["message"]) > self._max_chars:
            logger.info("webchat.message_too_long sid=%s chars=%s", sid, len(data["message"]))
            await self._say(
                sid, TextKey.WEBCHAT_TOO_LONG, chars=len(data["message"]), max_chars=self._max_chars
            )
            return
        try:
            session_id = await self._session_id(sid, data)
        except Exception:
            # The store could not say whether the session exists.
            logger.exception("webchat.session_check_failed sid=%s", sid)
            await self._say(sid, TextKey.WEBCHAT_TAKE_FAILED)
            return
        if session_id is None:
            await self._error(sid, "send session_request first, or include a valid session_id")
            return
        text = clean_customer_text(data["message"])
        if not text:
            return  # nothing to answer; the widget never sends empty messages
        limit = await self._over_limit(sid)
        if limit is not None:
            logger.warning("rate_limited channel=%s sid=%s limit=%s", Channel.WEBCHAT, sid, limit)
            await self._say(sid, TextKey.WEBCHAT_TOO_QUICK)
            return
        assert self._inbox is not None, "an outbound-only web chat takes no messages"
        try:
            # Routed before this returns: the customer waits on the socket for the answer.
            taken = await self._inbox.take(
                InboundMessage(
                    channel=Channel.WEBCHAT,
                    address=webchat_address(session_id),
                    text=text,
                    language_hint=browser_language(data),
                ),
                now=True,
            )
        except Exception:
            logger.exception("webchat.inbound_failed sid=%s", sid)
            await self._say(sid, TextKey.WEBCHAT_TAKE_FAILED)
            return
        if taken == Taken.RATE_LIMITED:
            logger.warning("rate_limited channel=%s sid=%s limit=session", Channel.WEBCHAT, sid)
            await self._say(sid, TextKey.WEBCHAT_TOO_QUICK)

    async def _session_id(self, sid: str, data: dict[str, Any]) -> str | None:
        """The session this message is for: the one given, if this socket may speak for it."""
        given = data.get("session_id")
        if isinstance(given, str) and _SESSION_ID.match(given):
            if given in self._joined.get(sid, set()):
                return given
            # Rasa's widgets send the session id with each message and may skip
            # session_request after a reconnect: join this socket if the id was issued.
            if await self.sessions.accepts(given) and await self._join(sid, given):
                return given
            return None
        session = await self._sio.get_session(sid)
        found = session.get("session_id") if session else None
        return found if isinstance(found, str) else None

    async def _over_limit(self, sid: str) -> str | None:
        """Which limit, of the connection's and the client address's, this message is over (a
        token taken from each it passed), else None. The session's own is the inbox's, after
        the store, like every channel's sender limit."""
        if self._socket_limiter is not None and not await self._socket_limiter.allow(
            SOCKET_LIMIT, sid
        ):
            return "socket"
        address = self._client_address.get(sid, "unknown")
        if self._address_limiter is not None and not await self._address_limiter.allow(
            CLIENT_ADDRESS_LIMIT, address
        ):
            return "address"
        return None

    async def _join(self, sid: str, session_id: str) -> bool:
        """Join this socket to the session's room; False when it holds as many as it may."""
        joined = self._joined.setdefault(sid, set())
        if session_id in joined:
            return True
        if len(joined) >= self._max_sessions:
            return False
        joined.add(session_id)
        # The room, like the conversation, is known by the session's hash (bot/webchat_address).
        address = webchat_address(session_id)
        await self._sio.enter_room(sid, address)
        if self.presence is None:
            return True
        try:
            await self.presence.joined(address)
        except RedisError:
            # Counted here already: the next refresh records it once Redis is back.
            logger.exception("webchat.presence_join_failed sid=%s", sid)
        return True

    async def _disconnect(self, sid: str, *args: Any) -> None:
        self._client_address.pop(sid, None)
        self._language.pop(sid, None)
        joined = self._joined.pop(sid, set())
        if self.presence is None:
            return
        for session_id in joined:
            try:
                await self.presence.left(webchat_address(session_id))
            except RedisError:
                # Redis away: the entry runs out by itself once no longer refreshed.
                logger.exception("webchat.presence_leave_failed sid=%s", sid)

    async def _too_many_sessions(self, sid: str) -> None:
        logger.warning("webchat.too_many_sessions sid=%s max=%s", sid, self._max_sessions)
        await self._say(sid, TextKey.WEBCHAT_TOO_MANY_SESSIONS, max_sessions=self._max_sessions)

    async def _say(self, sid: str, key: TextKey, **values: Any) -> None:
        """An error the customer reads, in their language as this connection knows it."""
        await self._error(sid, system_texts.text(key, self._language.get(sid), **values))

    async def _error(self, sid: str, message: str) -> None:
        await self._sio.emit("error", {"message": message}, to=sid)

    def _note_language(self, sid: str, hint: str | None) -> None:
        language = from_hint(hint)
        if is_supported(language):
            assert language is not None
            self._language[sid] = language

    # Outbound ------------------------------------------------------------------------------

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        file = reply.attachment.file if reply.attachment is not None else None
        links = self._uploads.media_links if self._uploads is not None else None
        file_url = links.url(file) if file and links is not None else None
        return [rasa_shaped(reply, file_url=file_url)]

    async def send(self, job: OutboundJob) -> Outcome:
        if not await self.reachable(job.address):
            return Offline()
        await self._sio.emit("bot_uttered", with_metadata(job.body), room=job.address)
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
            logger.warning("webchat.presence_unknown error=%s", error)
            return False

    def _is_connected(self, address: str) -> bool:
        return any(True for _ in self._sio.manager.get_participants(NAMESPACE, address))
