"""The echo channel: a message in through its webhook, the assistant's answer out to its API."""

from __future__ import annotations

import httpx

from tests.conftest import make_settings
from tests.support.echo_standin import running_echo_standin
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import running_rasa_standin


async def test_a_message_is_answered_on_the_echo_channel_once(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa, running_echo_standin() as echo:
        settings = make_settings(
            sqlite_url, rasa.url, ECHO_ENABLED=True, ECHO_API_BASE_URL=echo.url
        )
        async with running_gateway(settings) as gateway, httpx.AsyncClient() as http:
            message = {"id": "m-1", "from": "alice", "text": "where is my order"}
            first = await http.post(f"{gateway.url}/channels/echo/webhook", json=message)
            again = await http.post(f"{gateway.url}/channels/echo/webhook", json=message)
            assert first.json() == {"status": "accepted"}
            assert again.json() == {"status": "duplicate"}
            await eventually(lambda: bool(echo.sent), timeout=10)
    assert echo.sent == [{"to": "alice", "text": "Open My Orders to track it."}]
    assert [turn["message"] for turn in rasa.received] == ["where is my order"]
