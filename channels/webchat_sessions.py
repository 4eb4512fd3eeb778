"""Web chat identity: session ids the server issues, and which presented ids it accepts.

A web chat session id is a bearer secret: whoever presents it receives that customer's replies.
So the server makes it (192 random bits) and confirms it in `session_confirm`; Rasa's widgets,
and ours, keep the id the server confirms. A presented id is accepted only when the server
issued it: recently (a widget reconnecting, a second tab) or for a conversation that exists,
which is also how sessions from before ids were issued keep working. Anything else is answered
with a new id, as Rasa's protocol allows, so a client cannot choose or guess its way into
another customer's session. People see the conversation's label ("Web visitor 7F3A"), never
the id (bot/intake.py gives each web chat conversation one).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.store.db import reading
from bot.store.models import Conversation
from bot.webchat_address import webchat_address

logger = logging.getLogger(__name__)

# How long an issued id is accepted before the customer has written anything with it (once
# they have, their conversation vouches for it).
ISSUED_TTL_SECONDS = 24 * 3600
# Issued, still unused ids remembered in this process; the oldest are forgotten first (a
# forgotten one is answered with a new id, and nothing was said under it yet).
MAX_REMEMBERED = 100_000


def new_session_id() -> str:
    """An unguessable session id: 32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


class WebChatSessions:
    """Issues web chat session ids and says whether a presented one may be used."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        redis_client: redis.Redis | None = None,
        prefix: str = "caricom",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        # Shared by the instances, so a second tab on another instance keeps the session.
        self._redis = redis_client
        self._prefix = prefix
        self._clock = clock
        self._issued: OrderedDict[str, float] = OrderedDict()  # id → accepted until (clock)

    def _key(self, session_id: str) -> str:
        # Hashed: a key listing must not hand out live session ids.
        digest = hashlib.blake2b(session_id.encode(), digest_size=16).hexdigest()
        return f"{self._prefix}:webchat:issued:{digest}"

    async def issue(self) -> str:
        """A new session id, accepted from now on."""
        session_id = new_session_id()
        self._issued[session_id] = self._clock() + ISSUED_TTL_SECONDS
        if len(self._issued) > MAX_REMEMBERED:
            self._issued.popitem(last=False)
        if self._redis is not None:
            try:
                await self._redis.set(self._key(session_id), "1", ex=ISSUED_TTL_SECONDS)
            except RedisError as error:
                # This instance still knows it; another one would issue a new id instead.
                logger.warning("webchat.issue_unshared error=%s", type(error).__name__)
        return session_id

    async def accepts(self, session_id: str) -> bool:
        """`session_id` was issued by a gateway: recently, or for a conversation that exists."""
        until = self._issued.get(session_id)
        if until is not None:
            if self._clock() < until:
                return True
            del self._issued[session_id]
        if self._redis is not None:
            try:
                if await self._redis.exists(self._key(session_id)):
                    return True
            except RedisError as error:
                logger.warning("webchat.issued_unknown error=%s", type(error).__name__)
        async with reading(self._session_factory) as session:
            found = await session.scalar(
                select(Conversation.id).where(
                    Conversation.channel == Channel.WEBCHAT,
                    Conversation.address == webchat_address(session_id),
                )
            )
        return found is not None

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
