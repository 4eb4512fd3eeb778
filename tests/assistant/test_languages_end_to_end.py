"""Customers in the Caribbean's languages, end to end with the real assistant (trained model,
Rasa and action servers): web chat over Socket.IO, SMS through the twilio library to a
stand-in of Twilio's API, and the queue as reps read it through the rep API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.handoff_reasons import HandoffReason
from bot.policy import promise_text
from bot.store.models import Conversation, ConversationState, Message
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
)
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ROOT / "data/responses/faq.yml").read_text()
)["responses"]
T = TypeVar("T")


def answer_in(name: str, language: str) -> str:
    """The variant of a response for `language` (English: the one with no condition)."""
    for variant in ANSWERS[name]:
        conditions = variant.get("condition") or []
        said = {c["value"] for c in conditions if c.get("name") == "language"}
        if (language == "en" and not conditions) or said == {language}:
            return str(variant["text"])
    raise AssertionError(f"{name} has no {language} variant")


@dataclass
class Live:
    gateway: LiveGateway
    sms_api: TwilioStandIn
    twilio: TwilioWebhookSender
    http: httpx.AsyncClient

    async def all(self, model: type[T], **where: Any) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            query = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
            return list(await session.scalars(query))

    async def rep_auth(self) -> dict[str, str]:
        async with self.gateway.services.session_factory() as session:
            await make_rep(session, "ann")
        response = await self.http.post(
            "/api/auth/login", json={"username": "ann", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def live(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[Live]:
    async with running_twilio_standin() as api:
        settings = make_settings(
            sqlite_url,
            rasa_stack.rasa_url,
            # A fresh Rasa's first turns are slow on a busy machine; what is checked here is
            # the language of the answer, not how fast it comes.
            RASA_TIMEOUT_SECONDS=60.0,
            **twilio_settings(api.url),
        )
        async with (
            running_gateway(settings) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
        ):
            sender = TwilioWebhookSender(gateway.url)
            yield Live(gateway, api, sender, http)
            await sender.close()


async def test_a_spanish_web_chat_customer_is_answered_in_spanish(live: Live) -> None:
    customer = await WebChatCustomer().connect(live.gateway.url)
    replies = await customer.say("hola, quiero cancelar mi pedido")
    await customer.close()

    assert replies[0]["text"] == answer_in("utter_cancel_order", "es")
    assert replies[0]["text"] != answer_in("utter_cancel_order", "en")
    [conversation] = await live.all(Conversation)
    assert conversation.language == "es"
    [asked, *_] = await live.all(Message, conversation_id=conversation.id)
    assert (asked.language, asked.intent) == ("es", "cancel_order")


async def test_a_haitian_creole_sms_customer_who_asks_for_a_person_is_queued_tagged_ht(
    live: Live,
) -> None:
    phone = "+50937000001"
    response = await live.twilio.message(sms(phone, "mwen vle pale ak yon moun"))
    assert response.status_code == 200
    [notice] = await live.sms_api.wait_for(phone, timeout=30)

    # The queue notice, in Haitian Creole (the gateway's texts, bot/system_texts.py).
    assert notice["Body"] == promise_text(HandoffReason.CUSTOMER_REQUEST, 24, "ht")
    assert notice["Body"] != promise_text(HandoffReason.CUSTOMER_REQUEST, 24, "en")

    [conversation] = await live.all(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == HandoffReason.CUSTOMER_REQUEST.value
    queue = (await live.http.get("/api/queue", headers=await live.rep_auth())).json()
    assert [(item["id"], item["channel"], item["language"]) for item in queue] == [
        (conversation.id, "sms", "ht")
    ]


async def test_a_papiamento_customer_is_handed_to_a_person_not_answered(live: Live) -> None:
    phone = "+59795000002"
    words = "mi ke kansela mi order, por fabor"
    response = await live.twilio.message(sms(phone, words))
    assert response.status_code == 200
    [notice] = await live.sms_api.wait_for(phone, timeout=30)

    # In English and French, never an answer in a language the customer may not read.
    assert notice["Body"] == promise_text(HandoffReason.UNSUPPORTED_LANGUAGE, 24)
    [conversation] = await live.all(Conversation)
    assert conversation.language == "pap"
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == HandoffReason.UNSUPPORTED_LANGUAGE.value
    log = await live.all(Message, conversation_id=conversation.id)
    assert [(m.sender_kind, m.text) for m in log] == [
        ("customer", words),
        ("system", notice["Body"]),
    ]
    assert log[0].intent is None  # the assistant was never asked
    queue = (await live.http.get("/api/queue", headers=await live.rep_auth())).json()
    assert [(item["reason"], item["language"]) for item in queue] == [
        ("unsupported_language", "pap")
    ]
