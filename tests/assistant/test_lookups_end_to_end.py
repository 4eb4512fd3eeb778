"""The real assistant looking a customer's order up on the platform (stand-in), on WhatsApp
(Twilio stand-in): a verified customer gets the order's status in one turn, an outage gives the
pointer answer, and none of it reaches the logs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.net import free_port
from bench.rasa_stack import RasaStack
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.platform_standin import (
    CUSTOMER_PHONE,
    TOKEN,
    PlatformStandIn,
    running_platform_standin,
)
from tests.support.telegram_standin import CUSTOMER, running_telegram_gateway
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    twilio_settings,
    whatsapp,
)

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = {
    **yaml.safe_load((ROOT / "data/responses/faq.yml").read_text())["responses"],
    **yaml.safe_load((ROOT / "data/responses/lookups.yml").read_text())["responses"],
}
ADDRESS = f"whatsapp:{CUSTOMER_PHONE}"
PLATFORM_PORT = free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """Rasa and an action server that reads the platform stand-in (started per test)."""
    stack = RasaStack(
        workdir=tmp_path_factory.mktemp("rasa-lookups"),
        environment={
            "PLATFORM_API_URL": f"http://127.0.0.1:{PLATFORM_PORT}",
            "PLATFORM_API_TOKEN": TOKEN,
        },
    ).start()
    yield stack
    stack.stop()


class Live:
    def __init__(self, platform: PlatformStandIn, api: TwilioStandIn, twilio: TwilioWebhookSender):
        self.platform, self.api, self.twilio = platform, api, twilio

    async def ask(self, words: str) -> list[str]:
        """Send `words` on WhatsApp; the texts of the answers (without "did this help?")."""
        before = len(self.api.sent_to(ADDRESS))
        response = await self.twilio.message(whatsapp(CUSTOMER_PHONE, words))
        assert response.status_code == 200
        await self.api.wait_for(ADDRESS, before + 1, timeout=30)
        return [m["Body"].split("\n\nReply 1 for ")[0] for m in self.api.sent_to(ADDRESS)[before:]]


@pytest.fixture
async def live(stack: RasaStack, sqlite_url: str) -> AsyncIterator[Live]:
    async with (
        running_platform_standin(port=PLATFORM_PORT) as platform,
        running_twilio_standin() as api,
    ):
        settings = make_settings(sqlite_url, stack.rasa_url, **twilio_settings(api.url))
        async with running_gateway(settings) as gateway:
            sender = TwilioWebhookSender(gateway.url)
            yield Live(platform, api, sender)
            await sender.close()


async def test_a_verified_whatsapp_customer_gets_the_orders_status_in_one_turn(
    live: Live, stack: RasaStack
) -> None:
    answers = await live.ask("where is order 55123")
    assert answers[0] == "Order 55123: shipped. Expected delivery: 2026-12-03."
    assert [c for c in live.platform.calls if c.startswith("/v1/orders/55123")] != []
    # The phone and the record stay out of the Rasa and action server logs.
    logs = "".join(p.read_text(errors="replace") for p in stack.workdir.glob("*.log"))
    assert CUSTOMER_PHONE not in logs and CUSTOMER_PHONE.lstrip("+") not in logs
    assert "CCR123456789" not in logs


async def test_a_platform_outage_degrades_to_the_pointer_answer(live: Live) -> None:
    live.platform.go_down()
    [answer] = await live.ask("where is order 55123")
    assert answer in [variant["text"] for variant in ANSWERS["utter_track_order"]]
    assert live.platform.calls  # it was asked, and the turn still answered


async def test_telegram_proves_no_phone_so_nothing_personal_is_shown(
    stack: RasaStack, sqlite_url: str
) -> None:
    async with (
        running_platform_standin(port=PLATFORM_PORT) as platform,
        running_telegram_gateway(sqlite_url, stack.rasa_url) as live,
    ):
        response = await live.post(live.updates.message("where is order 55123"))
        assert response.status_code == 200
        await eventually(lambda: len(live.telegram.sent_to(CUSTOMER["id"])) >= 2, timeout=30)
        pointer, offer = [m["text"] for m in live.telegram.sent_to(CUSTOMER["id"])][:2]
    assert pointer in [v["text"] for v in ANSWERS["utter_track_order"]]
    assert offer == ANSWERS["utter_lookup_needs_verified_phone"][0]["text"]
    assert platform.calls == []  # not even asked
