"""Cleaning customer text before it is stored or routed."""

from __future__ import annotations

import unicodedata

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
