"""The real assistant looking a customer's order up on the platform (stand-in): on WhatsApp
(Twilio stand-in) the phone verifies the customer and the order's status comes in one turn; on
web chat (Socket.IO) and Telegram the customer is asked for the email or phone on file and a
one-time code first, and sees nothing personal before. An outage gives the pointer answer, and
no phone, code or record reaches the logs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bench.net import free_port
from bench.rasa_stack import RasaStack
from bot.store.models import Conversation, Message
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
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = {
    **yaml.safe_load((ROOT / "data/responses/faq.yml").read_text())["responses"],
    **yaml.safe_load((ROOT / "data/responses/lookups.yml").read_text())["responses"],
}


def said(name: str, **values: str) -> str:
    """The English text of a response, filled in."""
    return str(ANSWERS[name][0]["text"]).format(**values)


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


async def test_a_whatsapp_customer_gets_the_delivery_date_and_the_invoice(live: Live) -> None:
    answers = await live.ask("when will order 55123 arrive?")
    assert answers == [
        said(
            "utter_delivery_expected",
            order_number="55123",
            status="shipped",
            expected_delivery="2026-12-03",
        )
    ]
    answers = await live.ask("can you send me the invoice for order 55123")
    assert answers == [
        said(
            "utter_invoice_link",
            invoice_number="INV-55123",
            order_number="55123",
            total="XCD 120.00",
            pdf_url=f"{live.platform.url}/v1/invoices/INV-55123.pdf",
        )
    ]
    # Someone else's order: not even its invoice.
    answers = await live.ask("send me the invoice for order 77777")
    assert answers[0] == said("utter_order_not_found_for_phone", order_number="77777")
    assert "INV-77777" not in " ".join(answers)


async def test_a_platform_outage_degrades_to_the_pointer_answer(live: Live) -> None:
    live.platform.go_down()
    [answer] = await live.ask("where is order 55123")
    assert answer in [variant["text"] for variant in ANSWERS["utter_track_order"]]
    assert live.platform.calls  # it was asked, and the turn still answered


async def test_telegram_proves_no_phone_so_the_customer_is_asked_to_verify_first(
    stack: RasaStack, sqlite_url: str
) -> None:
    async with (
        running_platform_standin(port=PLATFORM_PORT) as platform,
        running_telegram_gateway(sqlite_url, stack.rasa_url) as live,
    ):
        response = await live.post(live.updates.message("where is order 55123"))
        assert response.status_code == 200
        await eventually(lambda: len(live.telegram.sent_to(CUSTOMER["id"])) >= 1, timeout=30)
        [asked] = [m["text"] for m in live.telegram.sent_to(CUSTOMER["id"])]
        assert asked == said("utter_ask_lookup_form_verification_contact", order_number="55123")
        # A customer who would rather not gets the pointer answer, and nothing was looked up.
        response = await live.post(live.updates.message("never mind"))
        await eventually(lambda: len(live.telegram.sent_to(CUSTOMER["id"])) >= 2, timeout=30)
        pointer = live.telegram.sent_to(CUSTOMER["id"])[1]["text"].split("\n\n")[0]
    assert pointer in [v["text"] for v in ANSWERS["utter_track_order"]]
    assert platform.calls == []


@pytest.fixture
async def webchat(stack: RasaStack, sqlite_url: str) -> AsyncIterator[tuple[Any, PlatformStandIn]]:
    async with running_platform_standin(port=PLATFORM_PORT) as platform:
        settings = make_settings(sqlite_url, stack.rasa_url, RASA_TIMEOUT_SECONDS=60.0)
        async with running_gateway(settings) as gateway:
            # Each test's database numbers its conversations from 1, and Rasa (one per module)
            # keys its trackers by that number: start from a blank tracker.
            await gateway.services.rasa.erase_tracker("conversation-1")
            yield gateway, platform


async def test_a_web_chat_customer_verifies_with_a_one_time_code_then_sees_the_order(
    webchat: tuple[Any, PlatformStandIn], stack: RasaStack
) -> None:
    gateway, platform = webchat
    customer = await WebChatCustomer().connect(gateway.url)
    try:
        # No number: the assistant asks for it, and then for the contact on file.
        replies = await customer.say("where is my order?", timeout=60)
        assert [r["text"] for r in replies] == [said("utter_ask_lookup_form_order_number")]
        replies = await customer.say("55123", timeout=60)
        assert [r["text"] for r in replies] == [
            said("utter_ask_lookup_form_verification_contact", order_number="55123")
        ]
        assert platform.calls == []  # nothing looked up, nothing shown

        replies = await customer.say("keisha@example.com", expect=2, timeout=60)
        assert [r["text"] for r in replies] == [
            said("utter_verification_code_sent", sent_to="k***@example.com"),
            said("utter_ask_lookup_form_verification_code"),
        ]
        [sent] = platform.codes_sent
        assert sent.to == "keisha@example.com"
        wrong = "000000" if sent.code != "000000" else "111111"
        replies = await customer.say(wrong, expect=2, timeout=60)
        assert [r["text"] for r in replies] == [
            said("utter_verification_code_wrong"),
            said("utter_ask_lookup_form_verification_code"),
        ]
        assert not any(
            c.startswith("/v1/orders/55123") and "/verifications" not in c for c in platform.calls
        )

        replies = await customer.say(f"the code is {sent.code}", expect=3, timeout=60)
        assert [r["text"] for r in replies] == [
            said("utter_verified"),
            said(
                "utter_order_status",
                order_number="55123",
                status="shipped",
                expected_delivery="2026-12-03",
            ),
            said(
                "utter_order_tracking",
                carrier="Caribbean Courier",
                tracking_number="CCR123456789",
            ),
        ]

        # Verified for this order for the rest of the conversation: one turn now.
        replies = await customer.say("when will order 55123 arrive?", timeout=60)
        assert replies[0]["text"] == said(
            "utter_delivery_expected",
            order_number="55123",
            status="shipped",
            expected_delivery="2026-12-03",
        )

        # A person sees what the bot checked, in the handoff packet.
        await customer.say("I want to talk to a person", timeout=60)
    finally:
        await customer.close()

    async with gateway.services.session_factory() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        slots = (conversation.handoff_context or {}).get("slots") or {}
        assert slots["verification_method"] == "one_time_code"
        assert slots["verified_order"] == "55123"
        assert slots["verification_contact"] == "k***@example.com"
        assert slots["looked_up"]["order_number"] == "55123"
        assert "verification_code" not in slots or slots["verification_code"] != sent.code
        texts = [m.text for m in await session.scalars(select(Message).order_by(Message.id))]
    # Nor in Rasa's tracker store (the text was masked, the metadata dropped after the turn).
    tracker_events = await gateway.services.rasa.tracker_events("conversation-1")
    dumped = json.dumps(tracker_events)
    at = dumped.find(sent.code)
    assert at < 0, dumped[max(0, at - 600) : at + 100]
    # Neither code is in the message log; both are masked there.
    assert not any(sent.code in t or wrong in t for t in texts)
    assert "[code removed]" in texts and "the code is [code removed]" in texts
    # Nor in the Rasa and action server logs, with the email.
    logs = "".join(p.read_text(errors="replace") for p in stack.workdir.glob("*.log"))
    assert sent.code not in logs and "keisha@example.com" not in logs


async def test_asking_for_a_person_instead_of_verifying_hands_the_conversation_over(
    webchat: tuple[Any, PlatformStandIn],
) -> None:
    gateway, platform = webchat
    customer = await WebChatCustomer().connect(gateway.url)
    try:
        replies = await customer.say("where is order 55123", timeout=60)
        assert [r["text"] for r in replies] == [
            said("utter_ask_lookup_form_verification_contact", order_number="55123")
        ]
        await customer.say("I want to talk to a person", timeout=60)
    finally:
        await customer.close()
    async with gateway.services.session_factory() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert (conversation.state, conversation.escalation_reason) == (
            "queued",
            "customer_request",
        )
    assert platform.calls == []
