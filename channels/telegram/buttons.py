"""Button payloads as Telegram callback data, which Telegram limits to 1-64 bytes.

A payload that fits is sent as it is. Any other (Rasa payloads with entities can be long) is
sent as a key: `KEY_PREFIX` and 22 characters of the payload's SHA-256. The key is resolved
back by looking among the buttons of the conversation's recent outbound messages, which the log
keeps with their full payloads (bot/buttons.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from bot.messages import Button

MAX_CALLBACK_BYTES = 64
KEY_PREFIX = "#k:"
# How far back a key is looked for: a button older than this many outbound messages of the
# conversation is no longer on the customer's screen in any useful sense.
RECENT_MESSAGES = 50


def callback_data(payload: str) -> str:
    """What to put in a button's callback_data for `payload` (at most 64 bytes)."""
    fits = 0 < len(payload.encode()) <= MAX_CALLBACK_BYTES
    # A payload that looks like a key is keyed too, so data with the prefix is always a key.
    if fits and not payload.startswith(KEY_PREFIX):
        return payload
    return payload_key(payload)


def payload_key(payload: str) -> str:
    digest = hashlib.sha256(payload.encode()).digest()
    return KEY_PREFIX + base64.urlsafe_b64encode(digest).decode()[:22]


def is_payload_key(data: str) -> bool:
    return data.startswith(KEY_PREFIX)


def resolve_payload_key(recent: Sequence[Button], key: str) -> Button | None:
    """The button among `recent` (the chat's latest, newest first) that `key` stands for."""
    for button in recent:
        if payload_key(button.payload) == key:
            return button
    return None
