"""The real assistant (trained model, Rasa and action servers) answering on Telegram, through
the webhook and python-telegram-bot against the Bot API stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.rasa_stack import RasaStack
from bot.store.models import Conversation, ConversationState, Message
from tests.support.net import eventually
from tests.support.telegram_standin import CUSTOMER, TelegramHarness, running_telegram_gateway

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ROOT / "data/responses/faq.yml").read_text()
)["responses"]


@pytest.fixture
async def live(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[TelegramHarness]:
    async with running_telegram_gateway(sqlite_url, rasa_stack.rasa_url) as harness:
        yield harness


async def _say(live: TelegramHarness, update: dict[str, Any]) -> list[dict[str, Any]]:
    """Post `update`; return the messages Telegram was given for it (once they stop coming)."""
    before = len(live.telegram.sent_to(CUSTOMER["id"]))
    response = await live.post(update)
    assert response.status_code == 200, response.text
    await eventually(lambda: len(live.telegram.sent_to(CUSTOMER["id"])) > before, timeout=30)
    await asyncio.sleep(1.0)  # a turn's later messages, or a duplicate if there were one
    return live.telegram.sent_to(CUSTOMER["id"])[before:]


async def test_a_question_gets_the_assistants_answer_once_and_the_exchange_is_logged(
    live: TelegramHarness,
) -> None:
    update = live.updates.message("hey where mi package dey? order CC-551203")
    [answer] = await _say(live, update)
    assert answer["text"] in [v["text"] for v in ANSWERS["utter_track_order"]]
    assert (await live.post(update)).json() == {"status": "duplicate"}  # Telegram retried
    await asyncio.sleep(1.0)
    assert len(live.telegram.sent_to(CUSTOMER["id"])) == 1

    [customer, bot] = await live.rows(Message)
    assert customer.text == "hey where mi package dey? order CC-551203"
    assert customer.external_id == str(update["update_id"])
    assert customer.intent == "track_order"
    assert (bot.sender_kind, bot.text) == ("bot", answer["text"])
    [conversation] = await live.rows(Conversation)
    assert conversation.channel == "telegram" and conversation.nature_of_inquiry == "track_order"


async def test_offered_buttons_are_an_inline_keyboard_and_pressing_one_reaches_the_assistant(
    live: TelegramHarness,
) -> None:
    await _say(live, live.updates.message("zxqv plonk wibbly frazzle"))
    offer = (await _say(live, live.updates.message("blorp snizzle quankt")))[-1]
    default = ANSWERS["utter_default"][0]
    assert offer["text"] == default["text"]
    assert offer["reply_markup"] == {
        "inline_keyboard": [
            [{"text": b["title"], "callback_data": b["payload"]}] for b in default["buttons"]
        ]
    }
    # Every bot message the log shows with buttons went out with them as a keyboard.
    sent = {m["text"]: m.get("reply_markup") for m in live.telegram.sent_to(CUSTOMER["id"])}
    for message in await live.rows(Message, sender_kind="bot"):
        if message.payload and message.payload.get("buttons"):
            titles = [b["title"] for b in message.payload["buttons"]]
            markup = sent[message.text]
            assert markup is not None
            assert [row[0]["text"] for row in markup["inline_keyboard"]] == titles

    yes = offer["reply_markup"]["inline_keyboard"][0][0]
    press = live.updates.button_press(offer, yes["callback_data"])
    handoff = await _say(live, press)
    assert "within 24 hours" in handoff[-1]["text"]
    answered = live.telegram.calls_to("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == [press["callback_query"]["id"]]
    [conversation] = await live.rows(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "repeated_fallback"
    chosen = (await live.rows(Message, sender_kind="customer"))[-1]
    assert chosen.text == "Yes, connect me"
