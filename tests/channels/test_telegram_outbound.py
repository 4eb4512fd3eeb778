"""Replies to Telegram: splitting, inline keyboards and button presses, and Telegram's faults
(429, 5xx, a blocked bot) through the outbox, with python-telegram-bot against the stand-in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import system_texts
from bot.messages import Button, Reply, SenderKind
from bot.store.models import Delivery, DeliveryStatus, Message
from bot.system_texts import TextKey
from channels.telegram.buttons import KEY_PREFIX, callback_data, payload_key
from channels.telegram.client import TelegramClient
from channels.telegram.outbound import TelegramSender, split_text
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import CUSTOMER, TelegramHarness, running_telegram_gateway

LONG_PAYLOAD = '/inform{"order_number": "CC-123456", "issue": "the parcel arrived damaged"}'


def _reply(text: str, buttons: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """What the Rasa stand-in answers: one message, with buttons if given."""
    message: dict[str, Any] = {"text": text}
    if buttons:
        message["buttons"] = [{"title": t, "payload": p} for t, p in buttons]
    return {"messages": [message], "intent": {"name": "nlu_fallback", "confidence": 0.3}}


@pytest.fixture
async def rasa() -> AsyncIterator[RasaStandIn]:
    async with running_rasa_standin() as rasa:
        yield rasa


@pytest.fixture
async def live(sqlite_url: str, rasa: RasaStandIn) -> AsyncIterator[TelegramHarness]:
    async with running_telegram_gateway(sqlite_url, rasa.url) as harness:
        yield harness


async def _delivered(live: TelegramHarness, count: int) -> list[dict[str, Any]]:
    await eventually(lambda: len(live.telegram.sent_to(CUSTOMER["id"])) >= count, timeout=8)
    return live.telegram.sent_to(CUSTOMER["id"])


async def _settled_delivery(live: TelegramHarness, *statuses: DeliveryStatus) -> Delivery:
    async def settled() -> Delivery | None:
        rows = await live.rows(Delivery)
        return rows[0] if rows and rows[0].status in statuses else None

    found: Delivery = await eventually(settled, timeout=8)
    return found


# Splitting and rendering ------------------------------------------------------------------


def test_short_and_empty_texts() -> None:
    assert split_text("  Hello there.  ") == ["Hello there."]
    assert split_text("   ") == []
    assert split_text("a" * 4096) == ["a" * 4096]


def test_long_text_is_cut_at_paragraphs_first() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 180 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text  # every cut fell on a paragraph break


def test_without_paragraphs_cuts_fall_after_sentences_then_between_words() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(400))
    parts = split_text(sentences)
    assert len(parts) > 1 and all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts) == sentences
    words = " ".join(f"word{i}" for i in range(1500))
    parts = split_text(words)
    assert all(len(p) <= 4096 for p in parts) and " ".join(parts) == words


def test_a_word_longer_than_a_message_is_cut_mid_word() -> None:
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_text("one two three", limit=8) == ["one two", "three"]


def test_length_is_counted_as_telegram_does_in_utf16_units() -> None:
    parts = split_text("😀" * 3000)  # each is two UTF-16 units
    assert [len(p) for p in parts] == [2048, 952]


def test_callback_data_fits_in_64_bytes() -> None:
    assert callback_data("/track_order") == "/track_order"
    assert callback_data("é" * 32) == "é" * 32  # 64 bytes
    keyed = callback_data("é" * 33)
    assert keyed.startswith(KEY_PREFIX) and len(keyed.encode()) <= 64
    assert callback_data(LONG_PAYLOAD) == payload_key(LONG_PAYLOAD) != payload_key("/deny")
    # Data that merely looks like a key is keyed too, so every key can be resolved.
    assert callback_data(KEY_PREFIX + "x").startswith(KEY_PREFIX)
    assert callback_data(KEY_PREFIX + "x") != KEY_PREFIX + "x"
    assert callback_data("") == payload_key("")


def test_render_puts_the_keyboard_on_the_last_part() -> None:
    sender = TelegramSender(TelegramClient(token="1:t", api_base_url="http://127.0.0.1:9"))
    buttons = (Button("Yes", "/affirm"), Button("Tell me more", LONG_PAYLOAD))
    bodies = sender.render(Reply("w " * 3000, SenderKind.BOT, buttons=buttons))
    assert len(bodies) == 2 and "buttons" not in bodies[0]
    assert bodies[1]["buttons"] == [
        {"text": "Yes", "callback_data": "/affirm"},
        {"text": "Tell me more", "callback_data": payload_key(LONG_PAYLOAD)},
    ]
    assert sender.render(Reply("", SenderKind.BOT, buttons=buttons[:1])) == [
        {
            "text": system_texts.text(TextKey.TELEGRAM_CHOOSE, "en"),
            "buttons": [{"text": "Yes", "callback_data": "/affirm"}],
        }
    ]
    assert sender.render(Reply("", SenderKind.BOT)) == []


# Buttons, end to end ----------------------------------------------------------------------


async def test_buttons_go_out_as_an_inline_keyboard_and_a_press_reaches_the_bot(
    live: TelegramHarness, rasa: RasaStandIn
) -> None:
    rasa.reply = _reply("Is it about tracking?", [("Yes", "/track_order"), ("No", "/deny")])
    await live.post(live.updates.message("hmm my thing"))
    [question] = await _delivered(live, 1)
    assert question["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "/track_order"}],
            [{"text": "No", "callback_data": "/deny"}],
        ]
    }

    rasa.reply = _reply("Open My Orders to track it.")
    press = live.updates.button_press(question, "/track_order")
    assert (await live.post(press)).json() == {"status": "accepted"}
    assert (await live.post(press)).json() == {"status": "duplicate"}
    await _delivered(live, 2)
    assert rasa.received[-1]["message"] == "/track_order"
    answered = live.telegram.calls_to("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == [press["callback_query"]["id"]]
    chosen = (await live.rows(Message, sender_kind="customer"))[-1]
    assert chosen.text == "Yes"  # the log shows what the customer saw and chose
    assert chosen.payload is not None and chosen.payload["button_payload"] == "/track_order"


async def test_a_payload_too_long_for_callback_data_is_resolved_back_in_full(
    live: TelegramHarness, rasa: RasaStandIn
) -> None:
    rasa.reply = _reply("Is this about order CC-123456?", [("Yes, that one", LONG_PAYLOAD)])
    await live.post(live.updates.message("my parcel"))
    [question] = await _delivered(live, 1)
    [[button]] = question["reply_markup"]["inline_keyboard"]
    assert button["callback_data"].startswith(KEY_PREFIX)
    assert len(button["callback_data"].encode()) <= 64

    await live.post(live.updates.button_press(question, button["callback_data"]))
    await eventually(lambda: len(rasa.received) == 2)
    assert rasa.received[-1]["message"] == LONG_PAYLOAD
    chosen = (await live.rows(Message, sender_kind="customer"))[-1]
    assert chosen.text == "Yes, that one"


async def test_a_press_on_a_button_that_cannot_be_found_is_answered_and_not_stored(
    live: TelegramHarness, rasa: RasaStandIn
) -> None:
    old = {"message_id": 9, "date": 0, "chat": {"id": CUSTOMER["id"], "type": "private"}}
    press = live.updates.button_press(old, KEY_PREFIX + "no-such-key")
    assert (await live.post(press)).json() == {"status": "ignored"}
    await eventually(lambda: live.telegram.calls_to("answerCallbackQuery"))
    [answer] = live.telegram.calls_to("answerCallbackQuery")
    assert answer.params["text"] == system_texts.text(TextKey.TELEGRAM_EXPIRED_BUTTON, "en")
    assert await live.rows(Message) == [] and rasa.received == []


# Long messages and Telegram's faults --------------------------------------------------------


async def test_a_long_answer_is_sent_in_parts_with_the_keyboard_last(
    live: TelegramHarness, rasa: RasaStandIn
) -> None:
    step = "Follow the instructions carefully. " * 30
    text = "\n\n".join(f"Step {i}: {step}".strip() for i in range(9))
    rasa.reply = _reply(text, [("Done", "/affirm")])
    await live.post(live.updates.message("how do I do it"))
    parts = await _delivered(live, 3)
    assert len(parts) == 3 and all(len(p["text"]) <= 4096 for p in parts)
    assert "\n\n".join(p["text"] for p in parts) == text
    assert ["reply_markup" in p for p in parts] == [False, False, True]
    [bot] = await live.rows(Message, sender_kind="bot")
    assert bot.text == text  # logged once, whole


@pytest.mark.parametrize(
    ("fault", "waits"),
    [
        # Telegram says how long to wait: the outbox waits that, not its own backoff.
        ({"status": 429, "description": "Too Many Requests: retry after 1", "retry_after": 1}, 1),
        # Otherwise the first backoff: about two seconds (0.8 to 1.2 times that).
        ({"status": 500, "description": "Internal Server Error"}, 1.6),
        ({"status": 502, "description": "Bad Gateway"}, 1.6),
    ],
)
async def test_a_passing_fault_is_retried_and_the_message_sent_once(
    live: TelegramHarness, fault: dict[str, Any], waits: float
) -> None:
    live.telegram.fail_next("sendMessage", **fault)
    await live.post(live.updates.message("where is my order"))
    delivery = await _settled_delivery(live, DeliveryStatus.SENT)
    calls = live.telegram.calls_to("sendMessage")
    assert [c.status for c in calls] == [fault["status"], 200]
    assert len(live.telegram.sent_to(CUSTOMER["id"])) == 1
    assert delivery.attempts == 2 and delivery.provider_message_id is not None
    assert calls[1].at - calls[0].at >= waits - 0.05


async def test_a_blocked_bot_fails_for_good_and_is_not_retried(live: TelegramHarness) -> None:
    live.telegram.block(CUSTOMER["id"])
    await live.post(live.updates.message("where is my order"))
    delivery = await _settled_delivery(live, DeliveryStatus.FAILED, DeliveryStatus.PENDING)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1 and delivery.next_attempt_at is None
    assert delivery.last_error is not None and "blocked by the user" in delivery.last_error
    await asyncio.sleep(2.5)  # past the first backoff a retry would take
    assert len(live.telegram.calls_to("sendMessage")) == 1
    # The exchange stays in the record.
    assert [m.sender_kind for m in await live.rows(Message)] == ["customer", "bot"]


async def test_the_bot_token_never_reaches_the_logs_or_the_record(
    sqlite_url: str, rasa: RasaStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_telegram_gateway(sqlite_url, rasa.url, LOG_LEVEL="DEBUG") as live:
        logging.getLogger().addHandler(caplog.handler)
        caplog.set_level(logging.DEBUG)
        live.telegram.fail_next("sendMessage", status=500)
        live.telegram.block(-1_001_234)
        await live.post(live.updates.message("where is my order"))
        await _settled_delivery(live, DeliveryStatus.SENT)
        group = {"id": -1_001_234, "type": "group", "title": "G"}
        await live.post(live.updates.message("@CaricomConnectsBot hi", chat=group))
        await eventually(
            lambda: any("outbox.failed" in r.getMessage() for r in caplog.records), timeout=8
        )

        async def errors_once_blocked() -> list[str]:
            # The failure is logged inside the transaction that records it: wait for its commit.
            errors = [d.last_error or "" for d in await live.rows(Delivery)]
            return errors if any("blocked" in e for e in errors) else []

        errors = await eventually(errors_once_blocked)
    assert any("blocked" in e for e in errors)
    token = live.telegram.token
    assert token not in caplog.text
    assert token.split(":")[1] not in caplog.text
    assert all(token not in e for e in errors)
