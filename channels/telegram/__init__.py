"""Telegram, through python-telegram-bot: a webhook (or polling) in, the Bot API out.

`client` holds the one `Bot`; `inbound` parses updates; `intake` stores each update once (the
path the webhook and polling share); `outbound` renders and sends replies; `buttons` fits
button payloads into Telegram's 64-byte callback data; `webhook` and `polling` are the two ways
updates arrive.
"""

from channels.telegram.channel import TelegramChannel
from channels.telegram.client import ALLOWED_UPDATES
from channels.telegram.polling import PollingStopped, poll_updates
from channels.telegram.webhook import WEBHOOK_PATH, webhook_router

__all__ = [
    "ALLOWED_UPDATES",
    "WEBHOOK_PATH",
    "PollingStopped",
    "TelegramChannel",
    "poll_updates",
    "webhook_router",
]
