"""Cleaning customer text before it is stored or routed."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Line breaks and tabs are part of what customers write; other control characters are not
# (and PostgreSQL refuses NUL in text columns).
_KEPT_CONTROLS = {"\n", "\t"}


def clean_customer_text(text: str) -> str:
    """`text` without control characters, CRLF as LF, trimmed; emoji and all scripts kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = (
        ch for ch in text if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in {"Cc", "Cs"}
    )
    return "".join(kept).strip()


def split_in_parts(
    text: str,
    limit: int,
    *,
    cut_point: Callable[[str, int], int],
    size: Callable[[str], int] = len,
) -> list[str]:
    """`text` in parts of at most `limit` (as `size` measures), each ending where `cut_point`
    says: channels differ in how they count and where they prefer to cut. Empty gives none."""
    parts: list[str] = []
    rest = text.strip()
    while size(rest) > limit:
        cut = cut_point(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
