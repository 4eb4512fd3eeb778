"""Web chat limits (issue 11, finding 5): per socket and per client address as well as per
session, a cap on the sessions one socket speaks for, length measured before cleaning, and
Socket.IO's buffer sized to the message limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.messages import SenderKind
from bot.store.models import Conversation, Message
from channels.webchat import socket_buffer_bytes
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer

TOO_QUICK = "You're sending messages too quickly. Please wait a moment, then try again."


@pytest.fixture
async def live(sqlite_url: str) -> AsyncIterator[tuple[LiveGateway, RasaStandIn]]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway, rasa


async def _customer_texts(gateway: LiveGateway) -> list[str]:
    async with gateway.services.session_factory() as session:
        rows = await session.scalars(
            select(Message.text).where(Message.sender_kind == SenderKind.CUSTOMER)
        )
        return list(rows)


async def _conversations(gateway: LiveGateway) -> int:
    async with gateway.services.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)


async def test_rotating_session_ids_on_one_socket_buys_no_allowance(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(sqlite_url, rasa.url, RATE_LIMIT_BURST=3, RATE_LIMIT_PER_MINUTE=1)
        async with running_gateway(settings) as gateway:
            flooder = await WebChatCustomer().connect(gateway.url)
            try:
                # A session id of its own in each message (what the audit did) ...
                for n in range(10):
                    await flooder.client.emit(
                        "user_uttered", {"message": f"made up {n}", "session_id": f"rotate-{n}"}
                    )
                # ... and as many issued sessions as it can get, taking turns.
                sessions = [flooder.session_id]
                for _ in range(5):
                    await flooder.client.emit("session_request", None)
                await asyncio.sleep(0.5)
                while not flooder.confirmed.empty():
                    sessions.append(flooder.confirmed.get_nowait())
                for n in range(12):
                    await flooder.client.emit(
                        "user_uttered",
                        {"message": f"issued {n}", "session_id": sessions[n % len(sessions)]},
                    )
                await asyncio.sleep(1.0)
            finally:
                await flooder.close()
            stored = await _customer_texts(gateway)
            # One socket, one allowance: the burst of three, however many sessions it names.
            assert len(stored) == 3, stored
            assert len(rasa.received) == 3
            assert await _conversations(gateway) <= 3


async def test_one_socket_holds_a_few_sessions_at_most(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(sqlite_url, rasa.url, WEBCHAT_MAX_SESSIONS_PER_SOCKET=2)
        async with running_gateway(settings) as gateway:
            customer = await WebChatCustomer().connect(gateway.url)
            try:
                for _ in range(4):
                    await customer.client.emit("session_request", None)
                errors = [await asyncio.wait_for(customer.errors.get(), 5) for _ in range(3)]
                assert {e["message"] for e in errors} == {
                    "One connection can hold 2 chat sessions at most."
                }
                assert customer.confirmed.qsize() == 1  # the first plus one more
                # A session it holds still works.
                assert await customer.say("hello")
            finally:
                await customer.close()


async def test_many_sockets_from_one_address_share_its_allowance(sqlite_url: str) -> None:
    async with running_rasa_standin() as rasa:
        settings = make_settings(
            sqlite_url,
            rasa.url,
            RATE_LIMIT_BURST=10,
            WEBCHAT_ADDRESS_BURST=4,
            WEBCHAT_ADDRESS_PER_MINUTE=1,
        )
        async with running_gateway(settings) as gateway:
            sockets = [await WebChatCustomer().connect(gateway.url) for _ in range(3)]
            try:
                for n in range(3):
                    for index, socket in enumerate(sockets):
                        await socket.client.emit(
                            "user_uttered",
                            {
                                "message": f"socket {index} says {n}",
                                "session_id": socket.session_id,
                            },
                        )
                await eventually(lambda: sum(s.errors.qsize() for s in sockets) == 5)

                async def four_stored() -> bool:
                    return len(await _customer_texts(gateway)) == 4

                await eventually(four_stored)
            finally:
                for socket in sockets:
                    await socket.close()
            errors = [s.errors.get_nowait() for s in sockets for _ in range(s.errors.qsize())]
            assert {e["message"] for e in errors} == {TOO_QUICK}
            assert len(await _customer_texts(gateway)) == 4


async def test_length_is_measured_before_cleaning(live: tuple[LiveGateway, RasaStandIn]) -> None:
    customer = await WebChatCustomer().connect(live[0].url)
    # Cleaned, it would be "hi": too long all the same, and refused without the work.
    await customer.client.emit(
        "user_uttered", {"message": "\x00" * 2001 + "hi", "session_id": customer.session_id}
    )
    error = await asyncio.wait_for(customer.errors.get(), 5)
    assert "too long" in error["message"]
    await customer.close()
    assert await _customer_texts(live[0]) == []
    assert live[1].received == []


async def test_socketio_refuses_packets_far_beyond_the_message_limit(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    gateway = live[0]
    limit = socket_buffer_bytes(gateway.services.settings.MAX_MESSAGE_CHARS)
    assert gateway.services.sio.eio.max_http_buffer_size == limit
    customer = await WebChatCustomer().connect(gateway.url)
    await customer.client.emit(
        "user_uttered", {"message": "a" * (limit + 1), "session_id": customer.session_id}
    )
    # Engine.IO drops the connection before the packet is read whole or parsed.
    await eventually(lambda: not customer.client.connected)
    assert customer.errors.empty()
    await customer.close()
    assert await _customer_texts(gateway) == []
