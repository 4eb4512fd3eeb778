"""Sending through Twilio's REST API (a local stand-in): retries, permanent errors, long texts,
WhatsApp's 24-hour window, delivery status callbacks, and restarts that lose nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.messages import Reply, SenderKind
from bot.store.models import Contact, Conversation, Delivery, DeliveryStatus, Message, utcnow
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.net import eventually, free_port
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.twilio_standin import (
    TwilioHarness,
    TwilioWebhookSender,
    new_sid,
    running_twilio_gateway,
    running_twilio_standin,
    sms,
    twilio_settings,
    whatsapp,
)

CUSTOMER = "+12465550123"
WHATSAPP_CUSTOMER = f"whatsapp:{CUSTOMER}"
TEMPLATE_SID = "HX" + "b" * 32


@pytest.fixture
async def h(sqlite_url: str) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(sqlite_url) as harness:
        yield harness


async def _delivery_when(h: TwilioHarness, *statuses: DeliveryStatus) -> Delivery:
    async def found() -> Delivery | None:
        deliveries = await h.all(Delivery)
        return deliveries[-1] if deliveries and deliveries[-1].status in statuses else None

    return await eventually(found, timeout=10)


async def test_a_twilio_500_is_retried_and_the_reply_delivered_once(h: TwilioHarness) -> None:
    h.api.fail_next(500)
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    delivery = await _delivery_when(h, DeliveryStatus.SENT)
    assert delivery.attempts == 2
    assert len(h.api.attempts) == 2 and len(h.api.sent) == 1
    assert delivery.provider_message_id == h.api.sent[0]["Sid"]


async def test_a_429_waits_as_long_as_retry_after_says(h: TwilioHarness) -> None:
    h.api.fail_next(429, code=20429, message="Too Many Requests", retry_after="3")
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    waiting = await _delivery_when(h, DeliveryStatus.PENDING)
    assert waiting.last_error is not None and "20429" in waiting.last_error
    assert waiting.next_attempt_at is not None
    wait = (waiting.next_attempt_at - waiting.updated_at).total_seconds()
    assert 2.9 <= wait <= 3.1  # Retry-After, not the 1.6 to 2.4 s backoff
    await _delivery_when(h, DeliveryStatus.SENT)
    assert len(h.api.sent) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number is not a valid phone number."),
        (21408, "Permission to send an SMS has not been enabled for the region"),
        (21612, "The 'To' phone number is not currently reachable via SMS"),
        (63016, "Failed to send freeform message because you are outside the allowed window."),
    ],
)
async def test_a_permanent_error_fails_with_its_code_and_is_not_retried(
    h: TwilioHarness, code: int, message: str
) -> None:
    h.api.fail_next(400, code=code, message=message)
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    failed = await _delivery_when(h, DeliveryStatus.FAILED)
    assert failed.last_error is not None
    assert str(code) in failed.last_error and "HTTP 400" in failed.last_error
    await asyncio.sleep(2.5)  # past the first backoff
    assert len(h.api.attempts) == 1 and h.api.sent == []


async def test_unsubscribed_at_twilio_marks_the_contact_opted_out(h: TwilioHarness) -> None:
    h.api.fail_next(400, code=21610, message="Attempt to send to unsubscribed recipient")
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await _delivery_when(h, DeliveryStatus.FAILED)
    contact = await eventually(lambda: _opted_out(h))
    assert contact.phone == CUSTOMER


async def _opted_out(h: TwilioHarness) -> Contact | None:
    contact = await h.one(Contact)
    return contact if contact.opted_out_at is not None else None


async def test_twilio_unreachable_is_retried_later(sqlite_url: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with running_twilio_gateway(sqlite_url, TWILIO_API_BASE_URL=nowhere) as h:
        await h.twilio.message(sms(CUSTOMER, "where is my order"))
        waiting = await _delivery_when(h, DeliveryStatus.PENDING)
    assert waiting.last_error is not None and waiting.last_error.startswith("network error")


async def test_wrong_credentials_keep_the_message_for_a_retry(sqlite_url: str) -> None:
    async with running_twilio_gateway(sqlite_url, TWILIO_ACCOUNT_SID="AC" + "0" * 32) as h:
        await h.twilio.message(sms(CUSTOMER, "where is my order"))
        waiting = await _delivery_when(h, DeliveryStatus.PENDING)
    assert waiting.last_error is not None and "TWILIO_AUTH_TOKEN" in waiting.last_error


async def test_a_long_answer_arrives_in_parts_in_order(h: TwilioHarness) -> None:
    sentences = [
        f"Step {n}: open My Orders and check the parcel details carefully." for n in range(60)
    ]
    text = " ".join(sentences)  # about 3,900 characters
    # An intent that gets no "did this help?" buttons: only the text is split here.
    h.rasa.reply = {"messages": [{"text": text}], "intent": {"name": "out_of_scope"}}
    await h.twilio.message(sms(CUSTOMER, "how do I track my order"))
    parts = await h.api.wait_for(CUSTOMER, 3)
    assert all(len(p["Body"]) <= 1600 for p in parts)
    assert all(p["Body"].endswith("carefully.") for p in parts)
    assert " ".join(p["Body"] for p in parts) == text
    await asyncio.sleep(0.3)
    assert len(h.api.sent) == 3
    # One logged message, one delivery per part.
    assert [m.text for m in await h.all(Message, sender_kind=SenderKind.BOT)] == [text]
    assert len(await h.all(Delivery)) == 3


async def _reply_later(h: TwilioHarness, *, hours_since_customer_wrote: float) -> None:
    conversation = await h.one(Conversation)
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(last_customer_message_at=utcnow() - timedelta(hours=hours_since_customer_wrote))
        )
    await h.gateway.services.replies.send(
        conversation.id,
        Reply(text="Your refund went out today.\nIt takes 5 days.", sender_kind=SenderKind.REP),
    )


async def test_whatsapp_inside_the_window_is_free_form(h: TwilioHarness) -> None:
    await h.twilio.message(whatsapp(CUSTOMER, "where is my order"))
    await h.api.wait_for(WHATSAPP_CUSTOMER)
    await _reply_later(h, hours_since_customer_wrote=23)
    [_, later] = await h.api.wait_for(WHATSAPP_CUSTOMER, 2)
    assert later["Body"] == "Your refund went out today.\nIt takes 5 days."
    assert later["From"] == "whatsapp:+12465550101" and "ContentSid" not in later


async def test_whatsapp_outside_the_window_goes_as_the_template(sqlite_url: str) -> None:
    async with running_twilio_gateway(sqlite_url, TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE_SID) as h:
        await h.twilio.message(whatsapp(CUSTOMER, "where is my order"))
        await h.api.wait_for(WHATSAPP_CUSTOMER)
        await _reply_later(h, hours_since_customer_wrote=25)
        [_, later] = await h.api.wait_for(WHATSAPP_CUSTOMER, 2)
    assert later["ContentSid"] == TEMPLATE_SID and "Body" not in later
    assert json.loads(later["ContentVariables"]) == {
        "1": "Your refund went out today. It takes 5 days."
    }


async def test_whatsapp_outside_the_window_without_a_template_fails_clearly(
    h: TwilioHarness, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger().addHandler(caplog.handler)  # the app reconfigured logging on start
    await h.twilio.message(whatsapp(CUSTOMER, "where is my order"))
    await h.api.wait_for(WHATSAPP_CUSTOMER)
    await _reply_later(h, hours_since_customer_wrote=25)
    failed = await _delivery_when(h, DeliveryStatus.FAILED)
    assert failed.last_error is not None
    assert "24-hour" in failed.last_error and "TWILIO_WHATSAPP_TEMPLATE_SID" in failed.last_error
    assert len(h.api.attempts) == 1  # only the answer inside the window
    assert any("twilio.whatsapp_window_closed" in r.getMessage() for r in caplog.records)


async def _sent_sid(h: TwilioHarness) -> tuple[str, int]:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    delivery = await _delivery_when(h, DeliveryStatus.SENT)
    assert delivery.provider_message_id is not None
    return delivery.provider_message_id, delivery.id


async def _status_of(h: TwilioHarness, delivery_id: int) -> Delivery:
    return await h.one(Delivery, id=delivery_id)


async def test_status_callbacks_move_a_delivery_forward_never_back(h: TwilioHarness) -> None:
    sid, delivery_id = await _sent_sid(h)
    for status in ("queued", "sent", "delivered"):
        assert (await h.twilio.status(sid, status)).status_code == 200
    assert (await _status_of(h, delivery_id)).status == DeliveryStatus.DELIVERED
    # Late and out of order: a "sent" and a stray "undelivered" after "delivered".
    await h.twilio.status(sid, "sent")
    await h.twilio.status(sid, "undelivered", error_code="30003")
    delivery = await _status_of(h, delivery_id)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_error is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", DeliveryStatus.FAILED), ("undelivered", DeliveryStatus.UNDELIVERED)],
)
async def test_a_failed_delivery_keeps_twilios_error_code(
    h: TwilioHarness, status: str, expected: DeliveryStatus
) -> None:
    sid, delivery_id = await _sent_sid(h)
    await h.twilio.status(sid, status, error_code="30006")
    delivery = await _status_of(h, delivery_id)
    assert delivery.status == expected and delivery.last_error == "Twilio error 30006"


async def test_a_callback_that_overtakes_the_send_record_waits_for_it(h: TwilioHarness) -> None:
    sid, delivery_id = await _sent_sid(h)
    session_factory = h.gateway.services.session_factory

    async def set_delivery(**values: object) -> None:
        async with session_factory() as session, session.begin():
            await session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(**values)
            )

    # As between Twilio's answer and the outbox's record of the send.
    await set_delivery(status=DeliveryStatus.SENDING, provider_message_id=None)
    callback = asyncio.create_task(h.twilio.status(sid, "delivered"))
    await asyncio.sleep(0.5)
    assert not callback.done()
    await set_delivery(status=DeliveryStatus.SENT, provider_message_id=sid)  # the record
    assert (await callback).status_code == 200
    assert (await _status_of(h, delivery_id)).status == DeliveryStatus.DELIVERED


async def test_a_callback_for_an_unknown_message_is_acknowledged_and_logged(
    h: TwilioHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    monkeypatch.setattr("channels.twilio.status.WAIT_FOR_SEND_RECORD_SECONDS", 0.5)
    assert (await h.twilio.status("SMnotours", "sent")).status_code == 200
    assert (await h.twilio.status("SMnotours", "delivered")).status_code == 200
    unknown = [r.getMessage() for r in caplog.records if "result=unknown_sid" in r.getMessage()]
    assert len(unknown) == 2


async def test_a_status_callback_without_its_fields_is_a_400(h: TwilioHarness) -> None:
    response = await h.twilio.post("/channels/twilio/status", {"MessageStatus": "sent"})
    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]


async def test_a_reply_waiting_on_twilio_survives_a_restart(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa, running_twilio_standin() as api:
        settings = make_settings(sqlite_url, rasa.url, **twilio_settings(api.url))
        api.fail_next(503, times=1000)  # Twilio is down while the first gateway runs
        async with running_gateway(settings) as gateway:
            sender = TwilioWebhookSender(gateway.url)
            await sender.message(sms(CUSTOMER, "where is my order"))
            await sender.close()
            await eventually(lambda: len(api.attempts) >= 1)
        assert api.sent == []
        api.faults.clear()
        async with running_gateway(settings) as gateway:
            await api.wait_for(CUSTOMER, timeout=15)
            await asyncio.sleep(1.5)
        assert len(api.sent) == 1 and len(rasa.received) == 1


async def test_a_message_acknowledged_just_before_a_crash_is_still_answered(
    sqlite_url: str,
) -> None:
    slow = RasaStandIn(delay=5.0)
    async with running_rasa_standin(slow) as rasa, running_twilio_standin() as api:
        settings = make_settings(sqlite_url, rasa.url, **twilio_settings(api.url))
        async with running_gateway(settings) as gateway:
            sender = TwilioWebhookSender(gateway.url)
            response = await sender.message(sms(CUSTOMER, "where is my order", sid=new_sid()))
            await sender.close()
            assert response.status_code == 200
            await eventually(lambda: rasa.received)
        # The gateway stopped mid-turn. It comes back, with the assistant fast again.
        slow.delay = 0.0
        async with running_gateway(settings):
            await api.wait_for(CUSTOMER, timeout=15)
            await asyncio.sleep(0.5)
        [answer] = api.sent
        assert answer["Body"].startswith("Open My Orders to track it.")
