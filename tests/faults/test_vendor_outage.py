"""Twilio and Telegram fail for a whole minute: every reply written meanwhile goes out after,
once each, in order, without anyone touching the gateway.

Customers keep writing through the outage (the webhooks still work; only sending fails) and a
rep answers one of them, so bot replies and a rep's reply wait together in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.messages import Channel, Reply, SenderKind
from bot.store.models import Conversation, Delivery, DeliveryStatus
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.telegram_standin import (
    WEBHOOK_SECRET,
    Updates,
    running_telegram_standin,
)
from tests.support.twilio_standin import (
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
    whatsapp,
)

pytestmark = pytest.mark.rasa

OUTAGE_SECONDS = 60.0
# By then each waiting reply's backoff is about as long as the outage was; but a failing
# channel is probed every 10 s (bot/channel_health.py), and the first success brings every
# waiting reply forward. Without the probe this takes up to another minute.
RECOVERY_SECONDS = 30.0
SMS_CUSTOMERS = ["+12465550301", "+12465550302"]
WHATSAPP_CUSTOMER = "+18685550303"
TELEGRAM_CHATS = [7_100_001, 7_100_002]
QUESTIONS = ["where is my order", "how do I reset my password", "can I get a refund"]


async def _deliveries(gateway: LiveGateway) -> list[Delivery]:
    async with gateway.services.session_factory() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_replies_held_up_by_a_minute_long_vendor_outage_all_go_out_once_after(
    rasa_stack: RasaStack, sqlite_url: str
) -> None:
    async with (
        running_twilio_standin() as twilio_api,
        running_telegram_standin() as telegram_api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        settings = make_settings(
            sqlite_url,
            rasa_stack.rasa_url,
            TELEGRAM_BOT_TOKEN=telegram_api.token,
            TELEGRAM_SECRET_TOKEN=WEBHOOK_SECRET,
            TELEGRAM_API_BASE_URL=telegram_api.url,
            **twilio_settings(twilio_api.url),
        )
        async with running_gateway(settings) as gateway:
            twilio = TwilioWebhookSender(gateway.url)
            updates = Updates()
            twilio_api.down = telegram_api.down = True
            outage_ends = time.monotonic() + OUTAGE_SECONDS

            async def write(question: str) -> None:
                for customer in SMS_CUSTOMERS:
                    assert (await twilio.message(sms(customer, question))).status_code == 200
                form = whatsapp(WHATSAPP_CUSTOMER, question)
                assert (await twilio.message(form)).status_code == 200
                for chat in TELEGRAM_CHATS:
                    update = updates.message(question, chat={"id": chat, "type": "private"})
                    response = await http.post(
                        f"{gateway.url}/channels/telegram/webhook",
                        content=json.dumps(update).encode(),
                        headers={
                            "Content-Type": "application/json",
                            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
                        },
                    )
                    assert response.status_code == 200

            for question in QUESTIONS:  # spread over the outage's first half
                await write(question)
                await asyncio.sleep(OUTAGE_SECONDS / 2 / len(QUESTIONS))
            async with gateway.services.session_factory() as session:
                [rep_answers] = await session.scalars(
                    select(Conversation.id).where(Conversation.channel == Channel.TELEGRAM).limit(1)
                )
            rep_reply = "Hi, Keisha here: I'm checking with the courier."
            await gateway.services.replies.send(
                rep_answers, Reply(text=rep_reply, sender_kind=SenderKind.REP)
            )

            waiting = await _deliveries(gateway)
            assert waiting and all(d.status == DeliveryStatus.PENDING for d in waiting)
            assert twilio_api.sent == [] and telegram_api.messages == []
            assert len(twilio_api.attempts) >= len(waiting) // 2  # tried, and refused

            await asyncio.sleep(max(0.0, outage_ends - time.monotonic()))
            twilio_api.down = telegram_api.down = False

            async def all_sent() -> bool:
                return all(d.status == DeliveryStatus.SENT for d in await _deliveries(gateway))

            await eventually(all_sent, timeout=RECOVERY_SECONDS, interval=0.5)
            await twilio.close()

        deliveries = waiting
        twilio_rows = [d for d in deliveries if d.channel in (Channel.SMS, Channel.WHATSAPP)]
        telegram_rows = [d for d in deliveries if d.channel == Channel.TELEGRAM]
        assert len(twilio_api.sent) == len(twilio_rows)  # each once
        assert len(telegram_api.messages) == len(telegram_rows)
        # In order within each conversation, as they were written.
        for rows, sent_texts in (
            (twilio_rows, [(m["To"], m["Body"]) for m in twilio_api.sent]),
            (telegram_rows, [(str(m["chat"]["id"]), m["text"]) for m in telegram_api.messages]),
        ):
            for address in {d.address for d in rows}:
                expected = [d.body["text"] for d in rows if d.address == address]
                got = [text for to, text in sent_texts if to == address]
                assert got == expected
