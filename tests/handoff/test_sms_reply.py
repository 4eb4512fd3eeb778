"""A rep's reply to an SMS customer goes out through Twilio (a local stand-in of its API), its
delivery status follows Twilio's callbacks, and the console hears about each change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.store.models import (
    Conversation,
    ConversationState,
    Delivery,
    DeliveryStatus,
    Handoff,
    Message,
    ResponseKind,
    ResponseWindow,
    utcnow,
)
from handoff.live import LiveEvent
from handoff.sla import check_open_handoffs
from tests.handoff.factories import PASSWORD, make_rep
from tests.handoff.test_replies_and_feedback import HANDOFF_TURN, WRAP_UP
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn
from tests.support.twilio_standin import TwilioHarness, running_twilio_gateway, sms

CUSTOMER = "+12465550123"


@pytest.fixture
async def h(sqlite_url: str) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(sqlite_url, rasa=RasaStandIn(reply=HANDOFF_TURN)) as harness:
        yield harness


async def _api(h: TwilioHarness) -> tuple[httpx.AsyncClient, dict[str, str]]:
    async with h.gateway.services.session_factory() as session:
        await make_rep(session, "ann")
    client = httpx.AsyncClient(base_url=h.gateway.url, timeout=30)
    login = await client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    return client, {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_a_rep_reply_reaches_the_sms_customer_with_its_delivery_status(
    h: TwilioHarness,
) -> None:
    await h.twilio.message(sms(CUSTOMER, "I need a person"))
    [promise] = await h.api.wait_for(CUSTOMER)
    assert "within 24 hours" in promise["Body"]
    conversation = await eventually(lambda: h.one(Conversation, address=CUSTOMER))
    assert conversation.state == ConversationState.QUEUED and conversation.channel == "sms"

    client, rep = await _api(h)
    try:
        base = f"/api/conversations/{conversation.id}"
        assert (await client.post(f"{base}/claim", headers=rep)).status_code == 200
        hub = h.gateway.services.desk.live
        async with hub.subscribe() as events:
            sent = await client.post(
                f"{base}/replies", json={"text": "Hi, this is Ann from support."}, headers=rep
            )
            assert sent.status_code == 201 and sent.json()["delivery_status"] == "sent"
            _, reply = await h.api.wait_for(CUSTOMER, 2)
            # SMS shows no sender: the rep's name says a person wrote it; the log keeps the text.
            assert reply["Body"] == "Ann (Caricom Connects): Hi, this is Ann from support."
            assert reply["From"] == "+12465550100"

            [delivery] = await h.all(Delivery, message_id=sent.json()["message_id"])
            assert delivery.provider_message_id == reply["Sid"]
            await h.twilio.status(reply["Sid"], "delivered")
            seen = await _next_delivery_event(events, "delivered")
            assert seen.conversation_id == conversation.id
        detail = (await client.get(base, headers=rep)).json()
        [rep_message] = [m for m in detail["transcript"] if m["sender_kind"] == "rep"]
        assert rep_message["delivery_status"] == DeliveryStatus.DELIVERED
        assert rep_message["rep"]["username"] == "ann"
        assert rep_message["text"] == "Hi, this is Ann from support."

        # The rating question arrives as numbered options, and "4" is the rating.
        assert (await client.post(f"{base}/resolve", json=WRAP_UP, headers=rep)).status_code == 200
        question = (await h.api.wait_for(CUSTOMER, 3))[2]["Body"]
        assert "Reply 1 for Poor" in question and "Reply 5 for Excellent" in question
        await h.twilio.message(sms(CUSTOMER, "4"))
        thanks = (await h.api.wait_for(CUSTOMER, 4))[3]["Body"]
        assert "4 out of 5" in thanks
    finally:
        await client.aclose()


async def _next_delivery_event(events: object, status: str) -> LiveEvent:
    async def look() -> LiveEvent:
        while True:
            event = await events.next(timeout=10)  # type: ignore[attr-defined]
            assert event is not None, "no live event"
            if event.kind == "delivery" and event.data.get("status") == status:
                return event

    return await asyncio.wait_for(look(), 15)


async def test_a_reply_stops_the_clock_only_once_twilio_accepted_it(sqlite_url: str) -> None:
    async with running_twilio_gateway(
        sqlite_url, rasa=RasaStandIn(reply=HANDOFF_TURN), SLA_MONITOR_INTERVAL_SECONDS=0.2
    ) as h:
        await h.twilio.message(sms(CUSTOMER, "I need a person"))
        await h.api.wait_for(CUSTOMER)
        conversation = await eventually(lambda: h.one(Conversation, address=CUSTOMER))
        [window] = await eventually(lambda: h.all(ResponseWindow, conversation_id=conversation.id))
        assert window.kind == ResponseKind.FIRST and window.answered_at is None

        client, rep = await _api(h)
        try:
            base = f"/api/conversations/{conversation.id}"
            assert (await client.post(f"{base}/claim", headers=rep)).status_code == 200
            h.api.down = True  # Twilio answers 503: the reply waits in the outbox
            sent = await client.post(
                f"{base}/replies", json={"text": "Hi, this is Ann."}, headers=rep
            )
            assert sent.status_code == 201 and sent.json()["delivery_status"] == "pending"
            # The monitor has looked at least once since: the clock still runs.
            await check_open_handoffs(h.gateway.services.session_factory, now=utcnow())
            [window] = await h.all(ResponseWindow, conversation_id=conversation.id)
            assert window.answered_at is None

            h.api.down = False  # Twilio is back; the outbox retries
            [delivery] = await eventually(
                lambda: h.all(
                    Delivery, message_id=sent.json()["message_id"], status=DeliveryStatus.SENT
                ),
                timeout=60,
            )
            assert delivery.accepted_at is not None
            [message] = await h.all(Message, id=sent.json()["message_id"])
            assert delivery.accepted_at > message.created_at

            async def answered() -> ResponseWindow | None:
                [w] = await h.all(ResponseWindow, conversation_id=conversation.id)
                return w if w.answered_at is not None else None

            window = await eventually(answered, timeout=30)
            assert window.answered_at == delivery.accepted_at
            assert window.answered_by_message_id == message.id
            # The handoff's first response time, in reports and exports, is the same moment.
            [record] = await h.all(Handoff, conversation_id=conversation.id)
            assert record.first_response_at == delivery.accepted_at
            assert record.first_response_rep_id == message.rep_id
        finally:
            await client.aclose()
