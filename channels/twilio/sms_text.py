"""Text as SMS and WhatsApp carry it: parts of at most 1,600 characters, buttons as numbers.

Neither channel has buttons in a free-form message, so choices are offered as numbered lines
("Reply 1 for Yes", bot/buttons.py) and a customer's "1" is read back as that choice
(`Inbox.with_chosen_option`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.buttons import numbered_options
from bot.messages import Button
from bot.text import split_in_parts

# Twilio's limit for one message body, on SMS and WhatsApp alike.
MAX_BODY_CHARS = 1600

# The end of a sentence (with any closing quote or bracket) before whitespace, or a line break.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s)|\n")
_WHITESPACE = re.compile(r"\s")


def split_text(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """`text` in parts of at most `limit` characters: cut at a sentence end, else between
    words, else wherever the limit falls. Empty text gives no parts."""
    return split_in_parts(text, limit, cut_point=_cut_point)


def _cut_point(text: str, limit: int) -> int:
    # One character past the limit, so a boundary exactly at the limit is seen.
    window = text[: limit + 1]
    # A sentence end in the first half would leave a stub of a message; prefer words then.
    sentence_ends = [
        m.end() for m in _SENTENCE_END.finditer(window) if limit // 2 <= m.end() <= limit
    ]
    if sentence_ends:
        return sentence_ends[-1]
    spaces = [m.start() for m in _WHITESPACE.finditer(window) if m.start() > 0]
    if spaces:
        return spaces[-1]
    return limit


def render_text(
    text: str,
    buttons: Sequence[Button],
    limit: int = MAX_BODY_CHARS,
    *,
    language: str | None = None,
) -> list[str]:
    """The message bodies for a reply: its text split to fit, the choices after it (their
    "Reply 1 for …" in `language`, the conversation's)."""
    parts = split_text(text, limit)
    if buttons:
        options = numbered_options(buttons, language)
        if parts and len(parts[-1]) + 2 + len(options) <= limit:
            parts[-1] = f"{parts[-1]}\n\n{options}"
        else:
            parts.extend(split_text(options, limit))
    return parts
