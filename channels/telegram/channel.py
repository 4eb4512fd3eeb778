"""The Telegram channel's parts, built once per process: the Bot, the sender, the intake."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from bot.files.store import FileStore
from bot.inbox import Inbox
from bot.sending import ChannelSender
from channels.contract import BackgroundLoop
from channels.telegram.client import TelegramClient
from channels.telegram.intake import TelegramIntake
from channels.telegram.outbound import TelegramSender
from channels.telegram.webhook import webhook_router


class TelegramBot:
    """Both halves of the Telegram channel, sharing one python-telegram-bot `Bot`."""

    def __init__(
        self,
        *,
        token: str,
        api_base_url: str,
        inbox: Inbox,
        promise_hours: int,
        files: FileStore | None = None,
    ) -> None:
        self.client = TelegramClient(token=token, api_base_url=api_base_url)
        self.sender = TelegramSender(self.client, files=files)
        self.intake = TelegramIntake(client=self.client, inbox=inbox, promise_hours=promise_hours)

    async def close(self) -> None:
        await self.client.close()


class TelegramChannel:
    """The channel as the gateway sees it: the webhook always, the bot once it has a token."""

    name = "telegram"

    def __init__(self, bot: TelegramBot | None, *, secret_token: str) -> None:
        self.bot = bot  # None without TELEGRAM_BOT_TOKEN: the webhook answers 503
        self._secret_token = secret_token

    def senders(self) -> Sequence[ChannelSender]:
        return (self.bot.sender,) if self.bot is not None else ()

    def routes(self) -> APIRouter:
        return webhook_router(self.bot, secret_token=self._secret_token)

    def loops(self) -> Sequence[BackgroundLoop]:
        return ()

    async def close(self) -> None:
        if self.bot is not None:
            await self.bot.close()
