"""The real assistant (trained model, Rasa and action servers) through the gateway's web chat."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.faq_feedback import SELF_SERVICE_INTENTS
from bot.store.models import Conversation, ConversationState, Message, Priority
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ROOT / "data/responses/faq.yml").read_text()
)["responses"]
STORIES = yaml.safe_load((ROOT / "tests/test_stories.yml").read_text())["stories"]
# (customer's words, intent, what the bot must do) for every catalogue topic, phrased unlike
# the training data.
ANNOTATION = re.compile(r"\[([^\]]+)\]\([a-z_]+\)")  # "[CC-1](order_number)" -> "CC-1"
CATALOGUE = [
    (
        ANNOTATION.sub(r"\1", s["steps"][0]["user"].strip()),
        s["steps"][0]["intent"],
        s["steps"][1]["action"],
    )
    for s in STORIES
]
# Actions that look the customer's record up answer with the topic's pointer when, as here, no
# platform is configured (actions/lookups.py).
POINTER_ANSWERS = {
    "action_track_order": "utter_track_order",
    "action_track_refund": "utter_track_refund",
    "action_delivery_period": "utter_delivery_period",
    "action_get_invoice": "utter_get_invoice",
    "action_check_invoice": "utter_check_invoice",
}
# Replies that ask the customer to clarify rather than answer.
CLARIFYING = {
    v["text"] for name in ("utter_out_of_scope", "utter_ask_rephrase") for v in ANSWERS[name]
}
SELF_SERVICE_ANSWERS = {
    v["text"]
    for name, variants in ANSWERS.items()
    if name not in {"utter_out_of_scope", "utter_ask_rephrase", "utter_default"}
    for v in variants
}


@pytest.fixture
async def gateway(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[LiveGateway]:
    async with running_gateway(make_settings(sqlite_url, rasa_stack.rasa_url)) as gateway:
        yield gateway


async def _conversation(gateway: LiveGateway, address: str) -> Conversation:
    async with gateway.services.session_factory() as session:
        found = await session.scalar(select(Conversation).filter_by(address=address))
        assert found is not None
        return found


async def _messages(gateway: LiveGateway, conversation_id: int) -> list[Message]:
    async with gateway.services.session_factory() as session:
        rows = await session.scalars(
            select(Message).filter_by(conversation_id=conversation_id).order_by(Message.id)
        )
        return list(rows)


@pytest.mark.parametrize(("words", "intent", "action"), CATALOGUE, ids=[c[1] for c in CATALOGUE])
async def test_each_topic_in_the_customers_own_words(
    gateway: LiveGateway, words: str, intent: str, action: str
) -> None:
    customer = await WebChatCustomer().connect(gateway.url)
    replies = await customer.say(words)
    await customer.close()
    texts = [r["text"] for r in replies]
    if action == "action_handoff_to_human":
        assert "a representative will reply here within 24 hours" in texts[-1]
    else:
        answer = POINTER_ANSWERS.get(action, action)
        assert texts[0] in [variant["text"] for variant in ANSWERS[answer]]
    # Self-service answers ask whether they helped; small talk does not.
    asked = [q["title"] for q in replies[-1].get("quick_replies", [])]
    assert asked == (["Yes, thanks", "No"] if intent in SELF_SERVICE_INTENTS else [])

    conversation = await _conversation(gateway, customer.address)
    stored = await _messages(gateway, conversation.id)
    assert stored[0].text == words and stored[0].intent == intent
    assert stored[0].intent_confidence is not None and stored[0].intent_confidence >= 0.3
    assert [m.text for m in stored[1:]] == texts
    if intent not in {"greet", "goodbye", "thank", "bot_challenge"}:
        assert conversation.nature_of_inquiry == intent


@pytest.mark.parametrize(
    ("words", "reason", "priority"),
    [
        ("can I talk to a real person please", "customer_request", Priority.NORMAL),
        (
            "this is the worst service ever, I want to make a formal complaint",
            "complaint",
            Priority.HIGH,
        ),
        ("somebody hack mi account and change the email", "account_compromised", Priority.URGENT),
    ],
)
async def test_asking_for_a_person_or_complaining_queues_with_the_promise(
    gateway: LiveGateway, words: str, reason: str, priority: Priority
) -> None:
    customer = await WebChatCustomer().connect(gateway.url)
    replies = await customer.say(words)
    assert "within 24 hours" in replies[-1]["text"]
    assert replies[-1]["metadata"]["sender"] == "system"
    later = await customer.say("hello? anyone")
    assert "added this to your request" in later[0]["text"]
    await customer.close()

    conversation = await _conversation(gateway, customer.address)
    assert conversation.state == ConversationState.QUEUED and conversation.escalated
    assert conversation.escalation_reason == reason and conversation.priority == priority
    assert conversation.handoff_context is not None
    assert conversation.handoff_context["intent"] is not None
    assert conversation.handoff_context["summary"] == words


def _is_clarifying(reply: dict[str, Any]) -> bool:
    return reply["text"] in CLARIFYING or reply["text"].startswith("Sorry, I want to be sure")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("zxqv plonk wibbly frazzle", "blorp snizzle quankt"),  # gibberish
        ("who will win the cricket on saturday", "give me a recipe for callaloo"),  # off topic
    ],
)
async def test_nonsense_gets_a_clarifying_reply_then_the_offer_of_a_person(
    gateway: LiveGateway, first: str, second: str
) -> None:
    customer = await WebChatCustomer().connect(gateway.url)
    [reply] = await customer.say(first)
    assert _is_clarifying(reply), reply  # a question back, never a wrong answer
    assert reply["text"] not in SELF_SERVICE_ANSWERS
    offer = (await customer.say(second))[-1]
    assert offer["text"] == ANSWERS["utter_default"][0]["text"]
    yes = offer["quick_replies"][0]
    assert yes["title"] == "Yes, connect me"
    handoff = await customer.say(yes["payload"])
    assert "within 24 hours" in handoff[-1]["text"]
    await customer.close()
    conversation = await _conversation(gateway, customer.address)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "repeated_fallback"


async def test_a_clarified_guess_gets_the_answer(gateway: LiveGateway) -> None:
    customer = await WebChatCustomer().connect(gateway.url)
    first = await customer.say("refund thing")
    # "Is your question about …?" — say yes (a confident answer's buttons ask whether it helped)
    if "quick_replies" in first[-1] and _is_clarifying(first[-1]):
        answer = await customer.say(first[-1]["quick_replies"][0]["payload"])
        assert answer[0]["text"] in {v["text"] for vs in ANSWERS.values() for v in vs}
    await customer.close()
