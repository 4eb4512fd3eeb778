"""A store that refuses one customer message, for tests of what a vendor's retry costs."""

from __future__ import annotations

from typing import Any

import pytest

from bot.messages import InboundMessage
from bot.router import ConversationRouter


def refuse_first_message(router: ConversationRouter, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The router's next `receive` fails as if the store were down; the ids refused are listed."""
    receive = router.receive
    refused: list[str] = []

    async def store_down_once(inbound: InboundMessage, **options: Any) -> Any:
        if not refused:
            refused.append(str(inbound.external_id))
            raise ConnectionRefusedError("the store is down")
        return await receive(inbound, **options)

    monkeypatch.setattr(router, "receive", store_down_once)
    return refused
