"""The router against a stand-in of Rasa's HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from bot import system_texts
from bot.messages import Attachment, Channel, InboundMessage, Reply, SenderKind
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Delivery,
    DeliveryStatus,
    Episode,
    Message,
    Priority,
    TurnStatus,
)
from bot.system_texts import TextKey
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin

ATTACHMENT_NOTICE = system_texts.text(TextKey.ATTACHMENT_NOTICE, "en")
T = TypeVar("T")


@dataclass
class Harness:
    gateway: LiveGateway
    rasa: RasaStandIn

    async def count(self, model: type, **where: object) -> int:
        async with self.gateway.services.session_factory() as session:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(await session.scalar(query) or 0)

    async def conversation(self, address: str) -> Conversation:
        async with self.gateway.services.session_factory() as session:
            found = await session.scalar(select(Conversation).filter_by(address=address))
            assert found is not None
            return found

    async def all(self, model: type[T]) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            return list(await session.scalars(select(model)))

    async def messages(self, conversation_id: int) -> list[Message]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.scalars(
                select(Message).filter_by(conversation_id=conversation_id).order_by(Message.id)
            )
            return list(rows)


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(database_url, rasa.url)) as gateway,
    ):
        yield Harness(gateway, rasa)


ADDRESS = "session-a"


def chat(text: str, *, sid: str | None = None, address: str = ADDRESS) -> InboundMessage:
    return InboundMessage(channel=Channel.WEBCHAT, address=address, text=text, external_id=sid)


async def test_a_turn_is_logged_with_intent_and_nature_of_inquiry(harness: Harness) -> None:
    router = harness.gateway.services.router
    received = await router.receive(chat("where is order CC-123456", sid="SM1"))
    assert received is not None
    # Stored and committed before anything else happens:
    assert await harness.count(Message, turn_status=TurnStatus.PENDING) == 1
    await router.process(received.conversation_id)

    messages = await harness.messages(received.conversation_id)
    assert [(m.sender_kind, m.text) for m in messages] == [
        ("customer", "where is order CC-123456"),
        ("bot", "Open My Orders to track it."),
    ]
    assert messages[0].intent == "track_order" and messages[0].intent_confidence == pytest.approx(
        0.97
    )
    assert messages[0].turn_status == TurnStatus.DONE
    conversation = await harness.conversation(ADDRESS)
    assert conversation.nature_of_inquiry == "track_order"
    assert conversation.state == ConversationState.BOT and not conversation.escalated
    assert harness.rasa.received[0]["sender"] == f"conversation-{conversation.id}"


async def test_small_talk_is_not_the_nature_of_inquiry(harness: Harness) -> None:
    harness.rasa.reply = {
        "messages": [{"text": "Hi!"}],
        "intent": {"name": "greet", "confidence": 0.99},
    }
    await harness.gateway.services.router.handle(chat("hi"))
    assert (await harness.conversation(ADDRESS)).nature_of_inquiry is None


async def test_a_duplicate_delivery_is_stored_once(harness: Harness) -> None:
    router = harness.gateway.services.router
    first = await router.receive(chat("hello", sid="SMdup"))
    second = await router.receive(chat("hello", sid="SMdup"))
    assert first is not None and second is None
    assert await harness.count(Message) == 1


async def test_concurrent_duplicates_are_stored_once(harness: Harness) -> None:
    router = harness.gateway.services.router
    results = await asyncio.gather(*(router.receive(chat("hello", sid="SMrace")) for _ in range(8)))
    assert sum(r is not None for r in results) == 1
    assert await harness.count(Message) == 1


async def test_first_messages_racing_make_one_conversation(harness: Harness) -> None:
    router = harness.gateway.services.router
    results = await asyncio.gather(
        *(router.receive(chat(f"m{i}", sid=f"SMc{i}")) for i in range(6))
    )
    assert len({r.conversation_id for r in results if r}) == 1
    assert await harness.count(Conversation) == 1


async def test_handoff_payload_queues_with_flag_reason_priority_and_promise(
    harness: Harness,
) -> None:
    harness.rasa.reply = {
        "messages": [
            {"custom": {"handoff": {"reason": "complaint", "priority": "high", "summary": "bad"}}}
        ],
        "intent": {"name": "complaint", "confidence": 0.93},
        "slots": {"order_number": "CC-1"},
    }
    received = await harness.gateway.services.router.handle(chat("this service is terrible"))
    assert received is not None
    conversation = await harness.conversation(ADDRESS)
    assert conversation.state == ConversationState.QUEUED and conversation.escalated
    assert conversation.escalation_reason == "complaint"
    assert conversation.priority == Priority.HIGH and conversation.tier == 1
    assert conversation.due_at is not None and conversation.handoff_requested_at is not None
    assert conversation.handoff_context == {
        "intent": "complaint",
        "confidence": 0.93,
        "slots": {"order_number": "CC-1"},
        "summary": "bad",
    }
    replies = [m for m in await harness.messages(conversation.id) if m.sender_kind == "system"]
    assert len(replies) == 1 and "within 24 hours" in replies[0].text
    assert await harness.count(AuditEvent, to_state="queued") == 1


async def test_while_queued_the_bot_is_silent_and_one_notice_is_sent(harness: Harness) -> None:
    harness.rasa.reply = {
        "messages": [{"custom": {"handoff": {"reason": "customer_request", "priority": "normal"}}}],
        "intent": {"name": "contact_human_agent", "confidence": 0.99},
    }
    router = harness.gateway.services.router
    await router.handle(chat("agent please"))
    await router.handle(chat("hello??"))
    await router.handle(chat("anyone there"))
    assert len(harness.rasa.received) == 1  # the bot saw only the first message
    conversation = await harness.conversation(ADDRESS)
    texts = [m.text for m in await harness.messages(conversation.id) if m.sender_kind == "system"]
    assert len(texts) == 2 and texts[1].startswith("Thanks, I've added this")


async def test_assistant_unavailable_keeps_the_message_and_queues(database_url: str) -> None:
    # Nothing listens on port 9: Rasa is down.
    async with running_gateway(make_settings(database_url, "http://127.0.0.1:9")) as gateway:
        await gateway.services.router.handle(chat("where is my refund"))
        async with gateway.services.session_factory() as session:
            conversation = await session.scalar(select(Conversation))
            messages = (await session.scalars(select(Message).order_by(Message.id))).all()
    assert conversation is not None
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "assistant_unavailable"
    assert [m.sender_kind for m in messages] == ["customer", "system"]
    assert messages[0].text == "where is my refund" and messages[0].turn_status == TurnStatus.DONE
    assert "assistant is unavailable" in messages[1].text


@pytest.mark.parametrize("fault", ["error", "slow"])
async def test_rasa_erroring_or_too_slow_counts_as_unavailable(sqlite_url: str, fault: str) -> None:
    standin = RasaStandIn(status=500) if fault == "error" else RasaStandIn(delay=3.0)
    async with running_rasa_standin(standin) as rasa:
        settings = make_settings(sqlite_url, rasa.url, RASA_TIMEOUT_SECONDS=1.0)
        async with running_gateway(settings) as gateway:
            await gateway.services.router.handle(chat("hello"))
            async with gateway.services.session_factory() as session:
                conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.escalation_reason == "assistant_unavailable"


async def test_messages_left_pending_are_routed_after_a_restart(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(sqlite_url, rasa.url)
        async with running_gateway(settings) as gateway:
            # Stored, then the process "dies" before routing it.
            await gateway.services.router.receive(chat("track CC-555555", sid="SMlost"))
        assert rasa.received == []
        async with running_gateway(settings) as gateway:

            async def answered() -> bool:
                async with gateway.services.session_factory() as session:
                    return bool(
                        await session.scalar(
                            select(func.count()).where(Message.sender_kind == "bot")
                        )
                    )

            from tests.support.net import eventually

            await eventually(answered)
        assert len(rasa.received) == 1


async def test_attachments_are_kept_and_the_customer_told_the_bot_reads_text(
    harness: Harness,
) -> None:
    router = harness.gateway.services.router
    photo = Attachment(kind="image", url="https://example.test/p.jpg", content_type="image/jpeg")
    received = await router.handle(
        InboundMessage(channel=Channel.WEBCHAT, address=ADDRESS, text="", attachments=(photo,))
    )
    assert received is not None
    messages = await harness.messages(received.conversation_id)
    assert messages[0].payload == {"attachments": [photo.as_dict()]}
    assert [m.text for m in messages[1:]] == [ATTACHMENT_NOTICE]
    assert harness.rasa.received == []  # nothing for the assistant to read


async def test_a_chosen_button_is_logged_by_title_and_sent_to_the_bot_as_payload(
    harness: Harness,
) -> None:
    chosen = InboundMessage(
        channel=Channel.WEBCHAT, address=ADDRESS, text="Yes", button_payload="/track_order"
    )
    received = await harness.gateway.services.router.handle(chosen)
    assert received is not None
    [customer, _bot] = await harness.messages(received.conversation_id)
    assert customer.text == "Yes" and customer.payload == {"button_payload": "/track_order"}
    assert harness.rasa.received[0]["message"] == "/track_order"


async def test_recorded_messages_are_logged_answered_and_never_reach_the_bot(
    harness: Harness,
) -> None:
    router = harness.gateway.services.router
    notice = Reply(text="You are unsubscribed.", sender_kind=SenderKind.SYSTEM)
    received = await router.record(chat("STOP", sid="SMstop"), reply=notice)
    assert received is not None
    assert await router.record(chat("STOP", sid="SMstop"), reply=notice) is None  # duplicate
    await router.process(received.conversation_id)
    messages = await harness.messages(received.conversation_id)
    assert [(m.sender_kind, m.text) for m in messages] == [
        ("customer", "STOP"),
        ("system", "You are unsubscribed."),
    ]
    assert messages[0].turn_status == TurnStatus.DONE
    assert harness.rasa.received == []


async def test_card_numbers_and_codes_are_masked_before_storing_and_the_bot(
    harness: Harness,
) -> None:
    router = harness.gateway.services.router
    received = await router.handle(chat("card 4111 1111 1111 1111 declined, code 482913"))
    assert received is not None
    [customer, _bot] = await harness.messages(received.conversation_id)
    expected = "card [card ending 1111] declined, code [code removed]"
    assert customer.text == expected
    assert harness.rasa.received[0]["message"] == expected


async def test_a_code_the_assistant_asked_for_is_masked_and_handed_over_beside_the_text(
    harness: Harness,
) -> None:
    router = harness.gateway.services.router
    harness.rasa.reply = {
        "messages": [{"text": "I've sent a code to k***@example.com."}, {"text": "Type it here."}],
        # A self-service topic, which would get "did this help?" under an answer.
        "intent": {"name": "track_order", "confidence": 0.9},
        "slots": {},
        "asking": True,
        "expects_one_time_code": True,
    }
    received = await router.handle(chat("keisha@example.com"))
    assert received is not None
    conversation = await harness.conversation(ADDRESS)
    assert conversation.code_expected_until is not None
    # A question of the assistant's own: no "did this help?" under it.
    bot_messages = (await harness.messages(received.conversation_id))[1:]
    assert [m.text for m in bot_messages] == [
        "I've sent a code to k***@example.com.",
        "Type it here.",
    ]
    assert all(not (m.payload or {}).get("buttons") for m in bot_messages)

    harness.rasa.reply = {
        "messages": [{"text": "Thank you, that's you."}],
        "intent": {"name": "out_of_scope", "confidence": 0.4},
        "slots": {"verified_order": "55123", "verification_method": "one_time_code"},
        "answering": True,
    }
    received = await router.handle(chat("it is 482 913"))
    assert received is not None
    customer = (await harness.messages(received.conversation_id))[-2]
    assert customer.text == "it is [code removed]"
    # Kept beside the text only for the turn: gone once it is done.
    assert "one_time_code" not in (customer.payload or {})
    sent = harness.rasa.received[-1]
    assert sent["message"] == "it is [code removed]"
    assert sent["metadata"]["one_time_code"] == "482913"
    assert (await harness.conversation(ADDRESS)).code_expected_until is None
    # An answer to the assistant's question, not an off-topic request: the episode did not
    # end on a fallback.
    [episode] = await harness.all(Episode)
    assert episode.ended_on_fallback is False and episode.last_intent == "track_order"

    # Not asked for any more: digits are an ordinary message again (an order number).
    await router.handle(chat("and order 55001?"))
    assert harness.rasa.received[-1]["message"] == "and order 55001?"
    assert "one_time_code" not in harness.rasa.received[-1]["metadata"]


async def test_replies_go_through_the_outbox(harness: Harness) -> None:
    router = harness.gateway.services.router
    received = await router.receive(chat("hi"))
    assert received is not None
    await router.process(received.conversation_id)
    async with harness.gateway.services.session_factory() as session:
        delivery = await session.scalar(select(Delivery))
    assert delivery is not None
    # Nobody is connected to that web chat session: kept for when the customer comes back.
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is None


async def test_a_message_handled_at_once_is_stored_already_claimed(harness: Harness) -> None:
    router = harness.gateway.services.router
    received = await router.handle(chat("where is my order"))
    assert received is not None and received.claimed is not None  # one commit, no claim
    [customer, _] = await harness.messages(received.conversation_id)
    assert customer.turn_status == TurnStatus.DONE and customer.route_attempts == 1


async def test_a_message_handled_behind_an_unrouted_one_waits_its_turn(harness: Harness) -> None:
    router = harness.gateway.services.router
    first = await router.receive(chat("where is my order"))  # stored, not yet routed
    second = await router.handle(chat("and my refund?"))
    assert first is not None and second is not None
    assert second.claimed is None  # not taken ahead of the first
    assert [turn["message"] for turn in harness.rasa.received] == [
        "where is my order",
        "and my refund?",
    ]
    assert await harness.count(Message, turn_status=TurnStatus.PENDING) == 0
