"""Two gateway instances sharing one PostgreSQL store and one Redis, as when scaled out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
import socketio
from sqlalchemy import select, update

from bot.messages import Channel, InboundMessage, Reply, SenderKind
from bot.store.models import Conversation, Message, TurnStatus, utcnow
from gateway.services import build_services
from handoff.live import LiveEvent, RedisHub, Subscription, message_added
from tests.conftest import make_settings
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.postgres


@pytest.fixture
async def two_gateways(
    postgres_url: str, redis_prefix: str
) -> AsyncIterator[tuple[LiveGateway, LiveGateway, RasaStandIn]]:
    async with running_rasa_standin() as rasa:
        settings = _settings(postgres_url, rasa.url, redis_prefix)
        async with running_gateway(settings) as a, running_gateway(settings) as b:
            yield a, b, rasa


def _settings(postgres_url: str, rasa_url: str, prefix: str, **overrides: Any) -> Any:
    return make_settings(
        postgres_url, rasa_url, REDIS_URL=TEST_REDIS_URL, REDIS_PREFIX=prefix, **overrides
    )


async def _conversation_id(gateway: LiveGateway, address: str) -> int:
    async with gateway.services.session_factory() as session:
        found = await session.scalar(select(Conversation.id).where(Conversation.address == address))
    assert found is not None
    return found


async def test_a_reply_sent_by_one_instance_reaches_a_customer_on_the_other(
    two_gateways: tuple[LiveGateway, LiveGateway, RasaStandIn],
) -> None:
    a, b, _ = two_gateways
    customer = await WebChatCustomer().connect(a.url)
    try:
        assert await customer.say("where is my order")
        conversation_id = await _conversation_id(a, customer.address)
        assert await b.services.channel("webchat").reachable(customer.address)  # type: ignore[attr-defined]

        await b.services.replies.send(
            conversation_id,
            Reply(text="Hi, this is Keisha from support.", sender_kind=SenderKind.REP, rep_id=7),
        )
        [reply] = await customer.receive(timeout=5)
        assert reply == {"text": "Hi, this is Keisha from support.", "metadata": {"sender": "rep"}}
    finally:
        await customer.close()
    # Gone from every instance: the next reply waits for the customer to come back.
    await eventually(lambda: _not_reachable(b, customer.address))


async def _not_reachable(gateway: LiveGateway, address: str) -> bool:
    return not await gateway.services.channel("webchat").reachable(address)  # type: ignore[attr-defined]


async def _routed_texts(rasa: RasaStandIn) -> list[str]:
    return [str(turn["message"]) for turn in rasa.received]


async def _all_routed(gateway: LiveGateway) -> bool:
    async with gateway.services.session_factory() as session:
        statuses = set(
            await session.scalars(
                select(Message.turn_status).where(Message.turn_status.is_not(None))
            )
        )
    return statuses == {TurnStatus.DONE}


async def test_one_delivery_arriving_at_both_instances_at_once_is_routed_once(
    two_gateways: tuple[LiveGateway, LiveGateway, RasaStandIn],
) -> None:
    a, b, rasa = two_gateways
    rasa.delay = 0.2
    for n in range(5):
        inbound = InboundMessage(
            channel=Channel.SMS,
            address="+12465550100",
            text=f"where is order {n}",
            external_id=f"SM{n:032d}",
            phone="+12465550100",
        )
        results = await asyncio.gather(
            a.services.router.handle(inbound), b.services.router.handle(inbound)
        )
        assert sum(result is not None for result in results) == 1
    await eventually(lambda: _all_routed(a))
    assert await _routed_texts(rasa) == [f"where is order {n}" for n in range(5)]


async def test_messages_of_one_conversation_on_both_instances_are_routed_once_in_order(
    two_gateways: tuple[LiveGateway, LiveGateway, RasaStandIn],
) -> None:
    a, b, rasa = two_gateways
    rasa.delay = 0.1

    async def send(gateway: LiveGateway, n: int) -> None:
        await asyncio.sleep(n * 0.03)  # several arrive while another instance routes one
        await gateway.services.router.handle(
            InboundMessage(channel=Channel.WEBCHAT, address="one-customer", text=f"message {n}")
        )

    await asyncio.gather(*(send(a if n % 2 else b, n) for n in range(8)))
    await eventually(lambda: _all_routed(a))
    async with a.services.session_factory() as session:
        stored = list(
            await session.scalars(
                select(Message.text).where(Message.sender_kind == "customer").order_by(Message.id)
            )
        )
    assert sorted(stored) == [f"message {n}" for n in range(8)]
    assert await _routed_texts(rasa) == stored  # each once, in the order they were stored


async def test_pending_messages_found_by_both_instances_at_start_up_are_routed_once(
    postgres_url: str, redis_prefix: str
) -> None:
    async with running_rasa_standin(RasaStandIn(delay=0.1)) as rasa:
        # Stored before the restart, never routed: three conversations of three messages.
        seeding = build_services(
            make_settings(postgres_url, rasa.url), socketio.AsyncServer(async_mode="asgi")
        )
        expected: dict[str, list[str]] = {}
        for c in range(3):
            for n in range(3):
                text = f"conversation {c} message {n}"
                expected.setdefault(f"c{c}", []).append(text)
                await seeding.router.receive(
                    InboundMessage(channel=Channel.WEBCHAT, address=f"c{c}", text=text)
                )
        await seeding.close()

        settings = _settings(postgres_url, rasa.url, redis_prefix)
        async with AsyncExitStack() as stack:
            a, _ = await asyncio.gather(
                stack.enter_async_context(running_gateway(settings)),
                stack.enter_async_context(running_gateway(settings)),
            )
            await eventually(lambda: _all_routed(a), timeout=10)
            routed = await _routed_texts(rasa)
    assert sorted(routed) == sorted(t for texts in expected.values() for t in texts)
    for texts in expected.values():  # each conversation's in order
        assert [t for t in routed if t in texts] == texts


async def test_a_message_left_by_a_dead_router_is_taken_over_after_its_lease(
    postgres_url: str, redis_prefix: str
) -> None:
    async with running_rasa_standin() as rasa:
        seeding = build_services(
            make_settings(postgres_url, rasa.url), socketio.AsyncServer(async_mode="asgi")
        )
        received = await seeding.router.receive(
            InboundMessage(channel=Channel.WEBCHAT, address="dead-1", text="anyone there?")
        )
        assert received is not None
        # Claimed by an instance that then died: its lease runs for another second.
        lease_until = utcnow() + timedelta(seconds=1.0)
        async with seeding.session_factory() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == received.message_id)
                .values(turn_status=TurnStatus.ROUTING, turn_lease_until=lease_until)
            )
        await seeding.close()

        settings = _settings(postgres_url, rasa.url, redis_prefix, TURN_SWEEP_SECONDS=0.2)
        async with running_gateway(settings) as gateway:
            await asyncio.sleep(0.5)
            assert rasa.received == [], "routed while another instance still held it"
            await eventually(lambda: _all_routed(gateway), timeout=5)
            assert utcnow() >= lease_until
    assert await _routed_texts(rasa) == ["anyone there?"]


async def test_console_events_published_on_one_instance_reach_consoles_on_the_other(
    two_gateways: tuple[LiveGateway, LiveGateway, RasaStandIn],
) -> None:
    a, b, _ = two_gateways
    hub_a, hub_b = a.services.desk.live, b.services.desk.live
    assert isinstance(hub_a, RedisHub) and isinstance(hub_b, RedisHub)
    await asyncio.wait_for(hub_a.listening.wait(), 5)
    await asyncio.wait_for(hub_b.listening.wait(), 5)
    received = await b.services.router.receive(
        InboundMessage(channel=Channel.WEBCHAT, address="console-1", text="hello")
    )
    assert received is not None
    async with hub_a.subscribe() as console_on_a, hub_b.subscribe() as console_on_b:
        message_id = await b.services.replies.send(
            received.conversation_id,
            Reply(text="Hi, this is Keisha.", sender_kind=SenderKind.REP, rep_id=7),
        )
        expected = message_added(received.conversation_id, message_id, SenderKind.REP)
        for console in (console_on_a, console_on_b):  # each instance's consoles, once each
            assert await _next_of_kind(console, "message") == expected
            assert await _next_of_kind(console, "message", timeout=0.3) is None


async def _next_of_kind(
    subscription: Subscription, kind: str, *, timeout: float = 5.0
) -> LiveEvent | None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        event = await subscription.next(timeout=left)
        if event is not None and event.kind == kind:
            return event
    return None
