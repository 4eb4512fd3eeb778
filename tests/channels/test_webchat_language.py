"""The browser's language as the web chat reads it from a message's metadata."""

from __future__ import annotations

from typing import Any

import pytest

from channels.webchat import browser_language


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        ({"message": "ok", "metadata": {"language": "es-419"}}, "es-419"),
        ({"message": "ok", "metadata": {"language": "fr"}}, "fr"),
        ({"message": "ok", "metadata": {"language": "zh-Hant-TW"}}, "zh-Hant-TW"),
        ({"message": "ok"}, None),  # Rasa's own widgets send none
        ({"message": "ok", "metadata": "fr"}, None),
        ({"message": "ok", "metadata": {"language": 7}}, None),
        ({"message": "ok", "metadata": {"language": "<script>"}}, None),
        ({"message": "ok", "metadata": {"language": "fr" * 40}}, None),
    ],
)
def test_only_a_language_tag_is_taken(data: dict[str, Any], hint: str | None) -> None:
    assert browser_language(data) == hint
