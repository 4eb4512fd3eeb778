"""The real assistant (trained model, Rasa and action servers) answering signed SMS and WhatsApp
messages, delivered through the twilio library to a stand-in of Twilio's Messages API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.store.models import Contact, Conversation, Message
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
    whatsapp,
)

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ROOT / "data/responses/faq.yml").read_text()
)["responses"]
CUSTOMER = "+12465550177"
T = TypeVar("T")


@dataclass
class Live:
    gateway: LiveGateway
    api: TwilioStandIn
    twilio: TwilioWebhookSender

    async def all(self, model: type[T], **where: Any) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            query = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
            return list(await session.scalars(query))


@pytest.fixture
async def h(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[Live]:
    async with running_twilio_standin() as api:
        settings = make_settings(sqlite_url, rasa_stack.rasa_url, **twilio_settings(api.url))
        async with running_gateway(settings) as gateway:
            sender = TwilioWebhookSender(gateway.url)
            yield Live(gateway, api, sender)
            await sender.close()


@pytest.mark.parametrize(
    ("form", "address", "words", "answer"),
    [
        # Phrasings from tests/test_stories.yml, unlike the training data.
        (sms, CUSTOMER, "mi cyaan remember mi password, how fi reset it", "utter_recover_password"),
        (
            whatsapp,
            f"whatsapp:{CUSTOMER}",
            "does caricom connects take mastercard or only visa",
            "utter_check_payment_methods",
        ),
    ],
    ids=["sms", "whatsapp"],
)
async def test_the_assistant_answers_on_sms_and_whatsapp_exactly_once(
    h: Live, form: Any, address: str, words: str, answer: str
) -> None:
    response = await h.twilio.message(form(CUSTOMER, words))
    assert response.status_code == 200
    [delivered] = await h.api.wait_for(address, timeout=30)
    # The answer, then the "did this help?" choices as numbered lines.
    text, options = delivered["Body"].split("\n\n", 1)
    assert text in [variant["text"] for variant in ANSWERS[answer]]
    assert options.startswith("Reply 1 for ")
    await asyncio.sleep(1.0)  # anything sent twice would have arrived by now
    assert len(h.api.sent_to(address)) == 1

    [conversation] = await h.all(Conversation)
    assert conversation.address == address
    assert conversation.nature_of_inquiry == answer.removeprefix("utter_")
    log = await h.all(Message, conversation_id=conversation.id)
    assert [(m.sender_kind, m.text) for m in log] == [
        ("customer", words),
        ("bot", text),
    ]
    assert log[0].intent == answer.removeprefix("utter_")
    assert [c.phone for c in await h.all(Contact)] == [CUSTOMER]
