"""GET /metrics: Prometheus text with the gateway's counts, optionally behind a token."""

from __future__ import annotations

import httpx

from bot.messages import Channel, InboundMessage
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.rasa_standin import running_rasa_standin


def _chat(text: str) -> InboundMessage:
    return InboundMessage(channel=Channel.WEBCHAT, address="metrics-1", text=text)


def _value(body: str, line_start: str) -> float:
    [line] = [line for line in body.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


async def test_turns_messages_handoffs_and_queue_depth_are_counted(sqlite_url: str) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        router = gateway.services.router
        await router.handle(_chat("where is my order"))
        rasa.reply = {
            "messages": [{"custom": {"handoff": {"reason": "complaint", "priority": "high"}}}],
            "intent": {"name": "complaint", "confidence": 0.9},
        }
        await router.handle(_chat("this is terrible"))
        await router.handle(_chat("hello?"))  # held for a person
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            response = await client.get("/metrics")
    assert response.status_code == 200
    body = response.text
    assert _value(body, 'caricom_messages_total{channel="webchat",direction="inbound"}') == 3
    assert _value(body, 'caricom_messages_total{channel="webchat",direction="outbound"}') == 3
    assert _value(body, 'caricom_turns_total{outcome="answered"}') == 1
    assert _value(body, 'caricom_turns_total{outcome="handoff"}') == 1
    assert _value(body, 'caricom_turns_total{outcome="human"}') == 1
    assert _value(body, 'caricom_handoffs_total{reason="complaint"}') == 1
    assert _value(body, "caricom_turn_seconds_count") == 2
    assert _value(body, 'caricom_queue_depth{state="queued",tier="1"}') == 1


async def test_the_token_is_required_when_configured(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, METRICS_TOKEN="scrape-secret-1")
    async with (
        running_gateway(settings) as gateway,
        httpx.AsyncClient(base_url=gateway.url) as client,
    ):
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer scrape-secret-1"}
        assert (await client.get("/metrics", headers=right)).status_code == 200
