"""The one python-telegram-bot `Bot` of a process, and what is asked of Telegram only once."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, User
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

logger = logging.getLogger(__name__)

# The update types this channel handles: given to setWebhook and getUpdates, so Telegram does
# not send (and count against us) what we would only acknowledge.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


class TelegramUnavailable(Exception):
    """Telegram could not be asked something this process needs (its answer is not cached)."""


class TelegramClient:
    """Holds the `Bot` (built once, no network at construction) and its cached identity.

    The bot token is part of every Bot API URL, so nothing here logs URLs, the `Bot` itself
    (its repr shows the token) or an unredacted error.
    """

    def __init__(self, *, token: str, api_base_url: str) -> None:
        # python-telegram-bot logs the API URL (token included) at DEBUG when a Bot is built;
        # keep its loggers at INFO even when the gateway runs with LOG_LEVEL=DEBUG.
        vendor_logger = logging.getLogger("telegram")
        if vendor_logger.getEffectiveLevel() < logging.INFO:
            vendor_logger.setLevel(logging.INFO)
        self._token = token
        # Our own request objects, so they can be closed whether or not Bot.initialize() ran.
        self._requests = (
            HTTPXRequest(connection_pool_size=1),  # getUpdates (polling): one long request
            HTTPXRequest(connection_pool_size=64),
        )
        # Bot appends the token to base_url: `<base>/bot<token>/<method>`.
        self.bot = Bot(
            token,
            base_url=f"{api_base_url}/bot",
            base_file_url=f"{api_base_url}/file/bot",
            get_updates_request=self._requests[0],
            request=self._requests[1],
        )
        self._me: User | None = None
        self._me_lock = asyncio.Lock()

    async def me(self) -> User:
        """The bot's own user (id, username), asked with getMe once per process."""
        if self._me is not None:
            return self._me
        async with self._me_lock:
            if self._me is None:
                try:
                    self._me = await self.bot.get_me()
                except TelegramError as error:
                    raise TelegramUnavailable(f"getMe failed: {self.redact(error)}") from None
                logger.info(
                    "telegram.identity bot_id=%s username=%s", self._me.id, self._me.username
                )
            return self._me

    def redact(self, error: BaseException | str) -> str:
        """`error` as text, with the bot token (which appears in API URLs) taken out."""
        return str(error).replace(self._token, "<bot-token>")

    async def close(self) -> None:
        await asyncio.gather(*(request.shutdown() for request in self._requests))
