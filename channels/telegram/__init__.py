"""Telegram, through python-telegram-bot: a webhook (or polling) in, the Bot API out.

`client` holds the one `Bot`; `inbound` parses updates; `intake` stores each update once (the
path the webhook and polling share); `outbound` renders and sends replies; `buttons` fits
button payloads into Telegram's 64-byte callback data; `webhook` and `polling` are the two ways
updates arrive.
"""

from bot.settings import Settings
from channels.contract import ChannelDeps
from channels.telegram.channel import TelegramBot, TelegramChannel
from channels.telegram.client import ALLOWED_UPDATES
from channels.telegram.polling import PollingStopped, poll_updates
from channels.telegram.webhook import WEBHOOK_PATH, webhook_router

__all__ = [
    "ALLOWED_UPDATES",
    "WEBHOOK_PATH",
    "PollingStopped",
    "TelegramBot",
    "TelegramChannel",
    "from_settings",
    "poll_updates",
    "webhook_router",
]


def from_settings(settings: Settings, deps: ChannelDeps) -> TelegramChannel:
    """Always on: without TELEGRAM_BOT_TOKEN (or the secret) its webhook refuses updates."""
    bot = (
        TelegramBot(
            token=settings.TELEGRAM_BOT_TOKEN,
            api_base_url=settings.TELEGRAM_API_BASE_URL,
            inbox=deps.inbox,
            promise_hours=settings.RESPONSE_PROMISE_HOURS,
            files=deps.files,
        )
        if settings.TELEGRAM_BOT_TOKEN
        else None
    )
    return TelegramChannel(bot, secret_token=settings.TELEGRAM_SECRET_TOKEN)
