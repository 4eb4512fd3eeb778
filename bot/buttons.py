"""Buttons as every channel shares them: read back from the log, offered as numbered options.

The log keeps each outbound message's buttons with their full payloads (`Reply.payload`), so a
channel that cannot carry a payload (a typed "1" on SMS, Telegram's 64-byte callback data)
finds the button again among the conversation's recent outbound messages: no extra table, and
it survives restarts and works across gateway instances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import system_texts
from bot.messages import Button, Channel, Direction
from bot.store.models import Conversation, Message
from bot.system_texts import TextKey

# "1", " 2 ", "2.", "3)": a customer choosing a numbered option.
_OPTION = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def buttons_in(payload: dict[str, Any] | None) -> list[Button]:
    """The buttons stored with a message (empty when it offered none)."""
    if not isinstance(payload, dict):
        return []
    found = payload.get("buttons")
    if not isinstance(found, list):
        return []
    return [
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in found
        if isinstance(b, dict)
    ]


async def recent_buttons(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    channel: Channel,
    address: str,
    lookback: int,
) -> list[list[Button]]:
    """The buttons of each of the conversation's last `lookback` outbound messages that offered
    some, newest first."""
    async with session_factory() as session:
        payloads = await session.scalars(
            select(Message.payload)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.channel == channel,
                Conversation.address == address,
                Message.direction == Direction.OUTBOUND,
            )
            .order_by(Message.id.desc())
            .limit(lookback)
        )
        return [buttons for payload in payloads if (buttons := buttons_in(payload))]


def numbered_options(buttons: Sequence[Button], language: str | None = None) -> str:
    """One line per choice, in `language`: "Reply 1 for Yes"."""
    return "\n".join(
        system_texts.text(TextKey.NUMBERED_OPTION, language, number=n, title=button.title)
        for n, button in enumerate(buttons, 1)
    )


def chosen_option(text: str) -> int | None:
    """The option number a customer typed ("1", " 2 ", "2."), or None for anything else."""
    match = _OPTION.match(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number > 0 else None
