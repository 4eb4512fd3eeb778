"""Polling mode, for development without a public URL: getUpdates through the webhook's path.

An update is confirmed to Telegram (the next getUpdates offset moves past it) only once the
intake has stored it, so a store outage or a crash means it is fetched again, and the intake's
duplicate check makes the second time harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telegram.error import Conflict, InvalidToken, TelegramError

from channels.telegram.channel import TelegramBot
from channels.telegram.client import ALLOWED_UPDATES

Report = Callable[[str], None]


class PollingStopped(Exception):
    """Polling cannot go on, and retrying will not help (a webhook is set, the token is bad)."""


async def poll_updates(
    channel: TelegramBot,
    *,
    report: Report,
    long_poll_seconds: int = 30,
    retry_seconds: float = 5.0,
) -> None:
    """Fetch updates and hand each to the intake (rate limits included), in order, until
    cancelled."""
    offset: int | None = None
    while True:
        try:
            updates = await channel.client.bot.get_updates(
                offset=offset, timeout=long_poll_seconds, allowed_updates=list(ALLOWED_UPDATES)
            )
        except Conflict as error:
            raise PollingStopped(
                f"Telegram refused getUpdates ({channel.client.redact(error)}). If a webhook is "
                "set, run `python -m gateway.cli telegram delete-webhook` first; otherwise stop "
                "the other process polling this bot."
            ) from None
        except InvalidToken:
            raise PollingStopped("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN).") from None
        except TelegramError as error:
            report(
                f"Telegram could not be reached ({channel.client.redact(error)}); "
                f"retrying in {retry_seconds:g} s"
            )
            await asyncio.sleep(retry_seconds)
            continue
        for update in updates:
            try:
                outcome = await channel.intake.handle(update)
            except Exception as error:
                # Not stored: leave the offset before it, so the next getUpdates returns it.
                report(
                    f"update {update.update_id} could not be stored ({type(error).__name__}); "
                    f"retrying in {retry_seconds:g} s"
                )
                await asyncio.sleep(retry_seconds)
                break
            offset = update.update_id + 1
            report(f"update {update.update_id}: {outcome}")
