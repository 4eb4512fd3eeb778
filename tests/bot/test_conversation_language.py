"""A conversation's language as its messages arrive: stored with each message and the
conversation, sent to Rasa with every turn, and a person for languages the assistant does not
answer in. Against a stand-in of Rasa (what the gateway sends it is what is checked here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot.handoff_reasons import HandoffReason
from bot.messages import Channel, InboundMessage, SenderKind
from bot.policy import promise_text, queue_notice_text
from bot.store.models import Conversation, ConversationState, Message
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import CUSTOMER, TelegramHarness, running_telegram_gateway


@dataclass
class Harness:
    gateway: LiveGateway
    rasa: RasaStandIn

    async def say(self, text: str, *, address: str = "session-a", hint: str | None = None) -> int:
        """One web chat message, stored and routed; the conversation's id."""
        received = await self.gateway.services.router.handle(
            InboundMessage(channel=Channel.WEBCHAT, address=address, text=text, language_hint=hint)
        )
        assert received is not None
        return received.conversation_id

    async def conversation(self, conversation_id: int) -> Conversation:
        async with self.gateway.services.session_factory() as session:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            return found

    async def messages(self, conversation_id: int) -> list[Message]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.scalars(
                select(Message).filter_by(conversation_id=conversation_id).order_by(Message.id)
            )
            return list(rows)

    def languages_sent_to_rasa(self) -> list[Any]:
        return [turn["metadata"].get("language") for turn in self.rasa.received]


@pytest.fixture
async def harness(sqlite_url: str) -> AsyncIterator[Harness]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield Harness(gateway, rasa)


async def test_a_short_reply_does_not_flip_a_spanish_conversation(harness: Harness) -> None:
    conversation_id = await harness.say("hola, quiero cancelar mi pedido 55123")
    await harness.say("ok")
    await harness.say("1")

    assert (await harness.conversation(conversation_id)).language == "es"
    customer = [
        m for m in await harness.messages(conversation_id) if m.sender_kind == SenderKind.CUSTOMER
    ]
    # Each message's own language: Spanish, unsure ("ok"), none at all ("1").
    assert [m.language for m in customer] == ["es", "und", None]
    assert harness.languages_sent_to_rasa() == ["es", "es", "es"]
    assert all(turn["metadata"]["channel"] == "webchat" for turn in harness.rasa.received)


async def test_a_customer_who_really_switches_is_followed(harness: Harness) -> None:
    conversation_id = await harness.say("bonjour, je veux annuler ma commande")
    await harness.say("sorry, can you tell me in English where my order is")
    await harness.say("merci")  # a word of French does not switch back

    assert (await harness.conversation(conversation_id)).language == "en"
    assert harness.languages_sent_to_rasa() == ["fr", "en", "en"]


async def test_a_conversation_is_undecided_until_something_tells(harness: Harness) -> None:
    conversation_id = await harness.say("12345")
    assert (await harness.conversation(conversation_id)).language is None
    await harness.say("gracias")  # one word, but a sure one, and nothing said before it
    assert (await harness.conversation(conversation_id)).language == "es"
    # Undecided, the assistant answers in its default language.
    assert harness.languages_sent_to_rasa() == ["en", "es"]


async def test_the_browser_language_decides_when_the_words_cannot(harness: Harness) -> None:
    conversation_id = await harness.say("ok", hint="nl-NL")
    assert (await harness.conversation(conversation_id)).language == "nl"
    # The text, once it says something, wins over the hint.
    other = await harness.say("where is my order 55123", address="session-b", hint="nl-NL")
    assert (await harness.conversation(other)).language == "en"
    assert harness.languages_sent_to_rasa() == ["nl", "en"]


async def test_a_masked_card_number_does_not_read_as_english(harness: Harness) -> None:
    conversation_id = await harness.say("mi tarjeta 4111 1111 1111 1111 fue rechazada")
    [customer] = [
        m for m in await harness.messages(conversation_id) if m.sender_kind == SenderKind.CUSTOMER
    ]
    assert customer.text == "mi tarjeta [card ending 1111] fue rechazada"
    assert customer.language == "es"


async def test_an_unsupported_language_goes_to_a_person_not_to_the_assistant(
    harness: Harness,
) -> None:
    conversation_id = await harness.say("mi ke kansela mi order, por fabor")

    conversation = await harness.conversation(conversation_id)
    assert conversation.language == "pap"
    assert conversation.state == ConversationState.QUEUED and conversation.escalated
    assert conversation.escalation_reason == HandoffReason.UNSUPPORTED_LANGUAGE.value
    assert conversation.handoff_context == {"language": "pap"}
    assert harness.rasa.received == []  # never answered in a language they may not read

    await harness.say("bo por yuda mi?")  # written while waiting: one acknowledgement
    said = [(m.sender_kind, m.text) for m in await harness.messages(conversation_id)]
    notice = promise_text(HandoffReason.UNSUPPORTED_LANGUAGE, 24)
    assert said == [
        (SenderKind.CUSTOMER, "mi ke kansela mi order, por fabor"),
        (SenderKind.SYSTEM, notice),
        (SenderKind.CUSTOMER, "bo por yuda mi?"),
        (SenderKind.SYSTEM, queue_notice_text(24, language="pap")),
    ]
    # In English and in French until the texts have translations.
    assert "representative will reply here within 24 hours" in notice
    assert "un représentant vous répondra ici dans les 24 heures" in notice
    assert "Un représentant vous répondra" in queue_notice_text(24, language="pap")
    assert harness.rasa.received == []


async def test_a_language_that_cannot_be_told_goes_to_a_person(harness: Harness) -> None:
    # Long enough to tell, but like nothing the detector knows well.
    conversation_id = await harness.say("asdf qwer zxcv")
    conversation = await harness.conversation(conversation_id)
    assert conversation.language == "und"
    assert conversation.escalation_reason == HandoffReason.UNSUPPORTED_LANGUAGE.value
    assert harness.rasa.received == []


# Telegram: the customer's language_code is the channel's hint ---------------------------------


@pytest.fixture
async def telegram(sqlite_url: str) -> AsyncIterator[tuple[TelegramHarness, RasaStandIn]]:
    async with (
        running_rasa_standin() as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as harness,
    ):
        yield harness, rasa


@pytest.mark.parametrize(
    ("text", "language_code", "language"),
    [
        ("hola", "es", "es"),
        ("ok", "fr", "fr"),  # the word says nothing: the hint decides
        ("ok", None, None),  # nothing tells: undecided, the default meanwhile
    ],
)
async def test_telegram_passes_the_customers_language_code(
    telegram: tuple[TelegramHarness, RasaStandIn],
    text: str,
    language_code: str | None,
    language: str | None,
) -> None:
    live, rasa = telegram
    sender = {**CUSTOMER, **({"language_code": language_code} if language_code else {})}
    response = await live.post(live.updates.message(text, **{"from": sender}))
    assert response.status_code == 200
    await eventually(lambda: len(rasa.received) == 1, timeout=5)
    [conversation] = await live.rows(Conversation)
    assert conversation.language == language
    assert rasa.received[0]["metadata"] == {"channel": "telegram", "language": language or "en"}
