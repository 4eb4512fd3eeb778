"""Did the answer help? Buttons on self-service answers, the yes/no capture, a person offered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.faq_feedback import (
    CONNECT_PAYLOAD,
    feedback_payload,
    parse_feedback,
)
from bot.messages import Channel, InboundMessage
from bot.store.models import Conversation, ConversationState, FaqFeedback, Message
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin

ADDRESS = "session-faq"
YES = '/faq_feedback{"helpful": "yes", "intent": "track_order"}'
NO = '/faq_feedback{"helpful": "no", "intent": "track_order"}'


@dataclass
class Chat:
    gateway: LiveGateway
    rasa: RasaStandIn

    async def say(self, text: str, button_payload: str | None = None) -> None:
        await self.gateway.services.router.handle(
            InboundMessage(
                channel=Channel.WEBCHAT, address=ADDRESS, text=text, button_payload=button_payload
            )
        )

    async def log(self) -> list[tuple[str, str, object]]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.scalars(select(Message).order_by(Message.id))
            return [(m.sender_kind, m.text, (m.payload or {}).get("buttons")) for m in rows]

    async def feedback(self) -> list[tuple[str, bool]]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.scalars(select(FaqFeedback).order_by(FaqFeedback.id))
            return [(f.intent, f.helpful) for f in rows]


@pytest.fixture
async def chat(database_url: str) -> AsyncIterator[Chat]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(database_url, rasa.url)) as gateway,
    ):
        yield Chat(gateway, rasa)


ASKED = [
    {"title": "Yes, thanks", "payload": YES},
    {"title": "No", "payload": NO},
]


async def test_a_self_service_answer_asks_whether_it_helped_and_yes_is_thanked(
    chat: Chat,
) -> None:
    await chat.say("where is my order")
    await chat.say("Yes, thanks", button_payload=YES)
    assert await chat.log() == [
        ("customer", "where is my order", None),
        ("bot", "Open My Orders to track it.", ASKED),
        ("customer", "Yes, thanks", None),
        ("system", "Great, glad that helped! If there is anything else, just write here.", None),
    ]
    assert await chat.feedback() == [("track_order", True)]
    assert len(chat.rasa.received) == 1  # the feedback never reached the assistant


async def test_no_offers_a_person_who_is_asked_for_with_the_reason(chat: Chat) -> None:
    await chat.say("where is my order")
    await chat.say("No", button_payload=NO)
    *_, offer = await chat.log()
    assert offer == (
        "system",
        "Sorry that didn't help. Would you like a person from our team to help you? "
        "A representative will reply here within 24 hours.",
        [
            {"title": "Yes, connect me", "payload": CONNECT_PAYLOAD},
            {"title": "No, thanks", "payload": "/deny"},
        ],
    )
    assert await chat.feedback() == [("track_order", False)]
    # "Yes, connect me" goes to the assistant, whose handoff action names the reason.
    chat.rasa.reply = {
        "messages": [{"custom": {"handoff": {"reason": "faq_not_helpful", "priority": "normal"}}}],
        "intent": {"name": "contact_human_agent", "confidence": 1.0},
    }
    await chat.say("Yes, connect me", button_payload=CONNECT_PAYLOAD)
    assert chat.rasa.received[-1]["message"] == CONNECT_PAYLOAD
    async with chat.gateway.services.session_factory() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert (conversation.state, conversation.escalation_reason) == (
            ConversationState.QUEUED,
            "faq_not_helpful",
        )


@pytest.mark.parametrize(
    ("intent", "handoff"),
    [("greet", None), ("nlu_fallback", None), ("contact_human_agent", "customer_request")],
)
async def test_small_talk_fallback_and_handoffs_get_no_buttons(
    chat: Chat, intent: str, handoff: str | None
) -> None:
    messages: list[dict[str, object]] = [{"text": "An answer."}]
    if handoff:
        messages.append({"custom": {"handoff": {"reason": handoff, "priority": "normal"}}})
    chat.rasa.reply = {"messages": messages, "intent": {"name": intent, "confidence": 0.9}}
    await chat.say("hello")
    assert all(buttons is None for _, _, buttons in await chat.log())


async def test_an_answer_with_its_own_buttons_keeps_them(chat: Chat) -> None:
    own = [{"title": "Track it", "payload": "/track_order"}]
    chat.rasa.reply = {
        "messages": [{"text": "Which one?", "buttons": own}],
        "intent": {"name": "track_order", "confidence": 0.9},
    }
    await chat.say("order")
    assert (await chat.log())[-1] == ("bot", "Which one?", own)


async def test_other_messages_route_normally(chat: Chat) -> None:
    await chat.say("where is my order")
    await chat.say("and my refund?")
    await chat.say('/faq_feedback{"helpful": "maybe", "intent": "track_order"}')
    assert len(chat.rasa.received) == 3
    assert await chat.feedback() == []


def test_payloads_name_a_self_service_intent_and_an_answer() -> None:
    assert parse_feedback(feedback_payload("get_refund", helpful=False)) == ("get_refund", False)
    assert parse_feedback(YES) == ("track_order", True)
    for said in (
        "yes",
        "/faq_feedback",
        '/faq_feedback{"helpful": "yes", "intent": "greet"}',
        '/faq_feedback{"helpful": "yes"}',
        "/faq_feedback[1]",
        '/faq_feedback{"helpful": "yes", "intent": "track_order"',
    ):
        assert parse_feedback(said) is None, said
