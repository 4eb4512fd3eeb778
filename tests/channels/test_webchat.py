"""Web chat over real Socket.IO: protocol, bad input, session persistence, offline delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import socketio
from sqlalchemy import func, select

from bot.messages import Reply, SenderKind
from bot.store.models import Conversation, Delivery, DeliveryStatus, Message
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer


@pytest.fixture
async def live(sqlite_url: str) -> AsyncIterator[tuple[LiveGateway, RasaStandIn]]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway, rasa


@pytest.fixture
async def customer(live: tuple[LiveGateway, RasaStandIn]) -> AsyncIterator[WebChatCustomer]:
    customer = await WebChatCustomer().connect(live[0].url)
    yield customer
    await customer.close()


async def _stored_customer_texts(gateway: LiveGateway) -> list[str]:
    async with gateway.services.session_factory() as session:
        rows = await session.scalars(select(Message.text).where(Message.sender_kind == "customer"))
        return list(rows)


async def test_a_session_id_the_gateway_issued_is_confirmed_again(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    first = await WebChatCustomer().connect(live[0].url)
    again = await WebChatCustomer(session_id=first.session_id).connect(live[0].url)
    assert again.session_id == first.session_id
    await first.close()
    await again.close()


async def test_a_session_id_is_made_when_none_is_given(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Queue[str] = asyncio.Queue()
    client.on("session_confirm", confirmed.put_nowait)
    await client.connect(live[0].url, transports=["websocket"])
    await client.emit("session_request", None)
    session_id = await asyncio.wait_for(confirmed.get(), 5)
    assert len(session_id) == 32
    await client.disconnect()


async def test_a_question_gets_the_bot_answer(customer: WebChatCustomer) -> None:
    replies = await customer.say("where is my order")
    # A self-service answer asks whether it helped (bot/faq_feedback.py).
    assert replies == [
        {
            "text": "Open My Orders to track it.",
            "quick_replies": [
                {
                    "content_type": "text",
                    "title": "Yes, thanks",
                    "payload": '/faq_feedback{"helpful": "yes", "intent": "track_order"}',
                },
                {
                    "content_type": "text",
                    "title": "No",
                    "payload": '/faq_feedback{"helpful": "no", "intent": "track_order"}',
                },
            ],
            "metadata": {"sender": "bot"},
        }
    ]


async def test_buttons_are_sent_as_quick_replies(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer
) -> None:
    live[1].reply = {
        "messages": [
            {
                "text": "Is it about tracking?",
                "buttons": [{"title": "Yes", "payload": "/track_order"}],
            }
        ],
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
    }
    [reply] = await customer.say("hmm")
    assert reply["quick_replies"] == [
        {"content_type": "text", "title": "Yes", "payload": "/track_order"}
    ]


async def test_empty_and_whitespace_messages_are_ignored(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer
) -> None:
    await customer.client.emit(
        "user_uttered", {"message": "   \n\t ", "session_id": customer.session_id}
    )
    await customer.client.emit("user_uttered", {"message": "", "session_id": customer.session_id})
    assert await customer.say("hello")  # the connection still works
    assert await _stored_customer_texts(live[0]) == ["hello"]
    assert customer.errors.empty()


async def test_an_overlong_message_is_refused_with_a_clear_error(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer
) -> None:
    await customer.client.emit(
        "user_uttered", {"message": "a" * 2001, "session_id": customer.session_id}
    )
    error = await asyncio.wait_for(customer.errors.get(), 5)
    assert "too long" in error["message"] and "2,000" in error["message"]
    assert await _stored_customer_texts(live[0]) == []
    assert live[1].received == []
    # 2,000 characters exactly is fine.
    assert await customer.say("b" * 2000)


@pytest.mark.parametrize(
    "event",
    [
        "just a string",
        None,
        42,
        {"message": {"text": "an object"}},
        {"message": ["a", "list"]},
        {"message": 42},
    ],
)
async def test_malformed_events_get_an_error_and_the_connection_survives(
    customer: WebChatCustomer, event: object
) -> None:
    await customer.client.emit("user_uttered", event)  # None: an event with no data at all
    error = await asyncio.wait_for(customer.errors.get(), 5)
    assert "message" in error["message"]
    assert await customer.say("still there?")


async def test_an_event_with_extra_arguments_is_read_by_its_first(
    customer: WebChatCustomer,
) -> None:
    await customer.client.emit(
        "user_uttered", ({"message": "hi", "session_id": customer.session_id}, "extra")
    )
    assert await customer.receive()


async def test_a_bad_session_id_is_refused(live: tuple[LiveGateway, RasaStandIn]) -> None:
    customer = WebChatCustomer()
    await customer.connect(live[0].url, request_session=False)
    await customer.client.emit("session_request", {"session_id": "<script>" * 30})
    error = await asyncio.wait_for(customer.errors.get(), 5)
    assert "session_id" in error["message"]
    await customer.close()


async def test_control_characters_emoji_and_other_scripts(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer
) -> None:
    await customer.say("mi order\x00\x07 🙏🏾 नमस्ते 你好")
    assert await _stored_customer_texts(live[0]) == ["mi order 🙏🏾 नमस्ते 你好"]
    assert live[1].received[0]["message"] == "mi order 🙏🏾 नमस्ते 你好"


async def test_a_reload_continues_the_same_conversation(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    first = await WebChatCustomer().connect(live[0].url)
    await first.say("hello")
    await first.close()
    again = await WebChatCustomer(session_id=first.session_id).connect(live[0].url)
    assert again.session_id == first.session_id
    await again.say("me again")
    await again.close()
    async with live[0].services.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert {r["sender"] for r in live[1].received} == {live[1].received[0]["sender"]}


async def test_messages_written_while_away_arrive_on_reconnect(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    gateway = live[0]
    customer = await WebChatCustomer().connect(gateway.url)
    await customer.say("hello")
    await customer.close()
    async with gateway.services.session_factory() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    assert conversation_id is not None
    # A person answers while the page is closed.
    await gateway.services.replies.send(
        conversation_id,
        Reply(text="Hi, this is Keisha from support.", sender_kind=SenderKind.REP, rep_id=7),
    )
    async with gateway.services.session_factory() as session:
        delivery = await session.scalar(select(Delivery).order_by(Delivery.id.desc()))
    assert delivery is not None and delivery.status == DeliveryStatus.PENDING

    back = WebChatCustomer(session_id=customer.session_id)
    await back.connect(gateway.url)
    assert back.session_id == customer.session_id
    [reply] = await back.receive()
    assert reply == {"text": "Hi, this is Keisha from support.", "metadata": {"sender": "rep"}}

    async def delivered() -> bool:
        async with gateway.services.session_factory() as session:
            found = await session.get(Delivery, delivery.id)
            return found is not None and found.status == DeliveryStatus.SENT

    await eventually(delivered)
    await back.close()


async def test_two_tabs_of_one_session_both_get_replies(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    tab1 = await WebChatCustomer().connect(live[0].url)
    tab2 = await WebChatCustomer(session_id=tab1.session_id).connect(live[0].url)
    assert tab2.session_id == tab1.session_id
    await tab1.say("hello")
    assert await tab2.receive()
    await tab1.close()
    await tab2.close()


async def test_a_flooding_sender_is_limited_while_another_is_answered_promptly(
    sqlite_url: str,
) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(sqlite_url, rasa.url, RATE_LIMIT_BURST=3, RATE_LIMIT_PER_MINUTE=1)
        async with running_gateway(settings) as gateway:
            flooder = await WebChatCustomer().connect(gateway.url)
            other = await WebChatCustomer().connect(gateway.url)
            try:
                for n in range(12):
                    await flooder.client.emit(
                        "user_uttered",
                        {"message": f"flood {n}", "session_id": flooder.session_id},
                    )
                errors = [await asyncio.wait_for(flooder.errors.get(), 5) for _ in range(9)]
                assert {e["message"] for e in errors} == {
                    "You're sending messages too quickly. Please wait a moment, then try again."
                }
                started = asyncio.get_running_loop().time()
                replies = await other.say("where is my order", timeout=5)
                took = asyncio.get_running_loop().time() - started
                assert replies and replies[0]["text"] == "Open My Orders to track it."
                assert took < 2.0, f"the other customer waited {took:.2f} s"

                # Three got through (the burst); the rest were refused before being stored.
                # The three may still be on their way to the store (each is detected and
                # stored in its own task, and the other customer's turn need not wait).
                async def three_floods_stored() -> bool:
                    texts = await _stored_customer_texts(gateway)
                    return len([t for t in texts if t.startswith("flood ")]) >= 3

                await eventually(three_floods_stored)
                stored = await _stored_customer_texts(gateway)
                assert len([t for t in stored if t.startswith("flood ")]) == 3
                assert "where is my order" in stored and len(stored) == 4
                assert other.errors.empty()
            finally:
                await flooder.close()
                await other.close()


@pytest.mark.parametrize(
    "init",
    [
        {"session_id": "filled in below"},  # rasa-webchat with no initPayload: no message key
        {"message": None, "session_id": "filled in below"},
        {"message": "", "customData": {"language": "en"}, "session_id": "filled in below"},
    ],
)
async def test_an_unset_init_payload_is_ignored_silently(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer, init: dict[str, object]
) -> None:
    await customer.client.emit("user_uttered", {**init, "session_id": customer.session_id})
    assert await customer.say("hello")  # answered, and nothing came before the answer
    assert customer.errors.empty()
    assert await _stored_customer_texts(live[0]) == ["hello"]


async def test_replies_have_exactly_the_keys_of_rasas_socketio_channel(
    live: tuple[LiveGateway, RasaStandIn], customer: WebChatCustomer
) -> None:
    """Rasa's SocketIOOutput sends `{text}` and `{text, quick_replies}`; ours adds only metadata."""
    live[1].reply = {
        "messages": [
            {"text": "Plain."},
            {"text": "Tracking?", "buttons": [{"title": "Yes", "payload": "/track_order"}]},
        ],
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
    }
    replies = await customer.say("hmm", expect=2)
    assert [sorted(r) for r in replies] == [
        ["metadata", "text"],
        ["metadata", "quick_replies", "text"],
    ]
    assert [r["metadata"] for r in replies] == [{"sender": "bot"}, {"sender": "bot"}]


def test_a_reply_stored_in_the_old_shape_goes_out_in_rasas() -> None:
    from channels.webchat_shapes import with_metadata

    assert with_metadata({"text": "Hi", "sender": "rep"}) == {
        "text": "Hi",
        "metadata": {"sender": "rep"},
    }
    shaped = {"text": "Hi", "metadata": {"sender": "bot"}}
    assert with_metadata(shaped) is shaped
