"""A send cut off midway is not sent twice: the outbox asks Twilio what it already has.

And after an outage, the first send that goes through brings the channel's waiting retries
forward instead of leaving each on its own backoff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.messages import Reply, SenderKind
from bot.store.models import Conversation, Delivery, DeliveryStatus, utcnow
from tests.support.net import eventually
from tests.support.twilio_standin import TwilioHarness, running_twilio_gateway, sms

CUSTOMER = "+12465550177"


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(database_url) as harness:
        yield harness


async def _sent(h: TwilioHarness, count: int) -> list[Delivery]:
    async def done() -> list[Delivery] | None:
        rows = await h.all(Delivery)
        sent = [d for d in rows if d.status == DeliveryStatus.SENT]
        return sent if len(sent) >= count else None

    return await eventually(done, timeout=15)


async def test_an_answer_lost_after_twilio_took_the_message_is_not_sent_again(
    h: TwilioHarness,
) -> None:
    h.api.drop_answers = 1  # Twilio accepts, the connection drops before its answer
    await h.twilio.message(sms(CUSTOMER, "where is my order"))

    [delivery] = await _sent(h, 1)
    assert len(h.api.sent) == 1, "the message went out twice"
    assert delivery.provider_message_id == h.api.sent[0]["Sid"]
    assert delivery.in_doubt is False


async def test_a_delivery_left_mid_send_by_a_dead_instance_is_found_at_twilio(
    h: TwilioHarness,
) -> None:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    [delivery] = await _sent(h, 1)
    # As if the sending instance died after Twilio took it, before it recorded the answer.
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id)
            .values(
                status=DeliveryStatus.SENDING,
                provider_message_id=None,
                lease_until=utcnow() - timedelta(seconds=1),
            )
        )
    await h.gateway.services.outbox.send_due()

    [settled] = await h.all(Delivery)
    assert settled.status == DeliveryStatus.SENT
    assert settled.provider_message_id == h.api.sent[0]["Sid"]
    assert len(h.api.sent) == 1


async def test_a_delivery_cut_off_before_it_reached_twilio_is_sent(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    [first] = await _sent(h, 1)
    conversation_id = first.conversation_id
    # A reply committed, then the process died before its send began: Twilio never saw it.
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == first.id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    outbox = h.gateway.services.outbox
    await h.gateway.services.replies.send(
        conversation_id, Reply(text="A person will look at it today.", sender_kind=SenderKind.REP)
    )
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id != first.id)
            .values(
                status=DeliveryStatus.SENDING,
                provider_message_id=None,
                lease_until=utcnow() - timedelta(seconds=1),
            )
        )
    h.api.sent[:] = h.api.sent[:1]  # Twilio's record: only the first reply ever arrived
    await outbox.send_due()

    rows = await h.all(Delivery)
    assert [d.status for d in rows] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert [m["Body"] for m in h.api.sent] == [
        h.api.sent[0]["Body"],
        "A person will look at it today.",
    ]
    assert {d.provider_message_id for d in rows} == {m["Sid"] for m in h.api.sent}


async def test_the_same_text_twice_is_two_messages(h: TwilioHarness) -> None:
    """A sid already recorded for another delivery is not taken for the one in doubt."""
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await _sent(h, 1)
    h.api.drop_answers = 1
    await h.twilio.message(sms(CUSTOMER, "where is my order"))  # the same answer again

    rows = await _sent(h, 2)
    assert len(h.api.sent) == 2
    assert len({d.provider_message_id for d in rows}) == 2
    assert {d.provider_message_id for d in rows} == {m["Sid"] for m in h.api.sent}


async def test_when_twilio_cannot_say_the_send_waits_rather_than_risk_a_double(
    h: TwilioHarness,
) -> None:
    h.api.drop_answers = 1
    h.api.down = True  # not even the list answers
    await h.twilio.message(sms(CUSTOMER, "where is my order"))

    async def waiting() -> Delivery | None:
        rows = await h.all(Delivery)
        return rows[0] if rows and rows[0].status == DeliveryStatus.PENDING else None

    delivery = await eventually(waiting, timeout=10)
    assert delivery.last_error is not None
    assert len(h.api.sent) == 0  # down from the start: nothing accepted
    h.api.down = False
    await eventually(lambda: _sent(h, 1), timeout=30)
    assert len(h.api.sent) == 1


async def test_the_first_send_after_an_outage_brings_waiting_retries_forward(
    h: TwilioHarness,
) -> None:
    h.api.down = True
    customers = [f"+124655502{i:02d}" for i in range(3)]
    for customer in customers:
        await h.twilio.message(sms(customer, "where is my order"))

    async def all_waiting() -> bool:
        rows = await h.all(Delivery)
        return len(rows) == 3 and all(d.status == DeliveryStatus.PENDING for d in rows)

    await eventually(all_waiting, timeout=10)
    # Far off on their backoff, as after many failed attempts.
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Delivery).values(next_attempt_at=utcnow() + timedelta(minutes=5))
        )
    h.api.down = False
    await h.twilio.message(sms("+12465550299", "where is my order"))  # goes through at once

    await _sent(h, 4)
    assert sorted(m["To"] for m in h.api.sent) == sorted([*customers, "+12465550299"])
    async with h.gateway.services.session_factory() as session:
        assert await session.get(Conversation, 1) is not None


async def test_a_reply_written_while_an_earlier_one_waits_goes_out_after_it(
    h: TwilioHarness,
) -> None:
    h.api.fail_next(503)
    await h.twilio.message(sms(CUSTOMER, "where is my order"))

    async def waiting() -> Delivery | None:
        rows = await h.all(Delivery)
        return rows[0] if rows and rows[0].status == DeliveryStatus.PENDING else None

    first = await eventually(waiting, timeout=10)
    # The first retry is far off: the rep's reply must not overtake it.
    async with h.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Delivery).values(next_attempt_at=utcnow() + timedelta(seconds=3))
        )
    await h.gateway.services.replies.send(
        first.conversation_id,
        Reply(text="A person will look at it today.", sender_kind=SenderKind.REP),
    )
    [_, second] = await h.all(Delivery)
    assert second.status == DeliveryStatus.PENDING  # behind the first, not sent

    await _sent(h, 2)
    assert [m["Body"] for m in h.api.sent][-1] == "A person will look at it today."
    assert h.api.sent[0]["Body"] == first.body["text"]
