"""With the real assistant (trained model, Rasa and action servers): a Haitian Creole SMS
customer who asks for a person is told in Haitian Creole, and a French one's "did this help?"
choices come in French under the assistant's French answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot import system_texts
from bot.store.models import Conversation, ConversationState
from bot.system_texts import TextKey
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
)

pytestmark = pytest.mark.rasa


@dataclass
class Live:
    gateway: LiveGateway
    api: TwilioStandIn
    twilio: TwilioWebhookSender

    async def conversation(self, address: str) -> Conversation:
        async with self.gateway.services.session_factory() as session:
            return (await session.scalars(select(Conversation).filter_by(address=address))).one()


@pytest.fixture
async def h(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[Live]:
    async with running_twilio_standin() as api:
        # A first turn on a busy machine may take longer than the usual test timeout: this
        # test is about what the customer is told, not how fast.
        settings = make_settings(
            sqlite_url,
            rasa_stack.rasa_url,
            RASA_TIMEOUT_SECONDS=60,
            **twilio_settings(api.url),
        )
        async with running_gateway(settings) as gateway:
            sender = TwilioWebhookSender(gateway.url)
            yield Live(gateway, api, sender)
            await sender.close()


async def test_a_haitian_creole_sms_customer_asking_for_a_person_is_told_in_creole(
    h: Live,
) -> None:
    customer = "+50937005511"
    await h.twilio.message(sms(customer, "mwen vle pale ak yon moun tanpri"))
    delivered = await h.api.wait_for(customer, timeout=30)
    promise = system_texts.text(TextKey.HANDOFF_PROMISE, "ht", hours=24)
    assert promise.startswith("Mèsi. Mwen pase demann ou an bay ekip sipò nou an")
    assert delivered[-1]["Body"] == promise
    conversation = await h.conversation(customer)
    assert (conversation.language, conversation.state) == ("ht", ConversationState.QUEUED)


async def test_a_french_sms_customers_answer_comes_with_french_choices(h: Live) -> None:
    customer = "+50937005512"
    await h.twilio.message(sms(customer, "bonjour, comment suivre ma commande s'il vous plaît"))
    [answer] = await h.api.wait_for(customer, timeout=30)
    text, choices = answer["Body"].split("\n\n")
    assert "commande" in text  # the assistant's French answer
    assert choices == "Répondez 1 pour Oui, merci\nRépondez 2 pour Non"
