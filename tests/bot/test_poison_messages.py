"""A customer message routing fails on every time: tried ROUTE_MAX_ATTEMPTS times, then a person.

Against a stand-in of Rasa, on SQLite and PostgreSQL. The sweep is driven by hand (it asks
`pending_conversations`, then calls `process`), so nothing waits for timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.handoff_reasons import HandoffReason
from bot.messages import Channel, InboundMessage, SenderKind
from bot.policy import queue_notice_text
from bot.rasa_client import Turn
from bot.router import ConversationRouter
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Message,
    TurnStatus,
    utcnow,
)
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin

MAX_ATTEMPTS = 3
LEASE_SECONDS = 0.2
POISON = "this one breaks the router"
ADDRESS = "poisoned-session"

ROUTING_FAILED = HandoffReason.ROUTING_FAILED.value


@dataclass
class Harness:
    gateway: LiveGateway
    rasa: RasaStandIn
    poison_calls: int = 0

    @property
    def router(self) -> ConversationRouter:
        return self.gateway.services.router

    async def receive(self, text: str) -> tuple[int, int]:
        received = await self.router.receive(
            InboundMessage(channel=Channel.WEBCHAT, address=ADDRESS, text=text)
        )
        assert received is not None
        return received.conversation_id, received.message_id

    async def sweep(self) -> list[int]:
        """What `_resume_pending_turns` does once: find what nobody routes, and route it."""
        found: list[int] = await self.router.pending_conversations()
        for conversation_id in found:
            await self.router.process(conversation_id)
        return found

    async def message(self, message_id: int) -> Message:
        async with self.gateway.services.session_factory() as session:
            found = await session.get(Message, message_id)
            assert found is not None
            return found

    async def conversation(self, conversation_id: int) -> Conversation:
        async with self.gateway.services.session_factory() as session:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            return found

    async def said_to_customer(self, conversation_id: int) -> list[tuple[str, str]]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.execute(
                select(Message.sender_kind, Message.text)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.sender_kind != SenderKind.CUSTOMER,
                )
                .order_by(Message.id)
            )
            return [(str(kind), text) for kind, text in rows]

    def counted(self, name: str, **labels: str) -> float:
        value = self.gateway.services.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


TurnMethod = Callable[..., Awaitable[Turn]]


@pytest.fixture
async def harness(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_rasa_standin() as rasa:
        settings = make_settings(
            database_url,
            rasa.url,
            ROUTE_MAX_ATTEMPTS=MAX_ATTEMPTS,
            TURN_LEASE_SECONDS=LEASE_SECONDS,
            TURN_SWEEP_SECONDS=3600,  # the test is the sweep
        )
        async with running_gateway(settings) as gateway:
            harness = Harness(gateway, rasa)
            rasa_client = gateway.services.rasa
            real_turn: TurnMethod = rasa_client.turn

            async def turn(*, sender_id: str, text: str, metadata: dict[str, Any]) -> Turn:
                if text == POISON:  # a bug the router trips on with this message, every time
                    harness.poison_calls += 1
                    raise RuntimeError("the router cannot handle this record")
                return await real_turn(sender_id=sender_id, text=text, metadata=metadata)

            monkeypatch.setattr(rasa_client, "turn", turn)
            yield harness


async def test_a_message_that_always_fails_is_tried_max_times_then_goes_to_a_person(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    conversation_id, poison_id = await harness.receive(POISON)
    _, next_id = await harness.receive("where is my order")

    # The web chat's path: stored and routed in one call, which must not raise.
    await harness.router.handle(
        InboundMessage(channel=Channel.WEBCHAT, address=ADDRESS, text="hello?")
    )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt == 2:
            assert await harness.sweep() == [conversation_id]  # handed back: the sweep sees it
        elif attempt == 3:
            # The webhooks' path: routed in a task of its own, which must end cleanly.
            harness.gateway.services.inbox.route_later(conversation_id)
            [task] = [
                t
                for t in harness.gateway.services.background
                if t.get_name() == f"turn-{conversation_id}"
            ]
            await task
        assert harness.poison_calls == attempt
        poison = await harness.message(poison_id)
        assert (poison.turn_status, poison.route_attempts) == (TurnStatus.PENDING, attempt)
        # The messages after it wait their turn.
        assert (await harness.message(next_id)).turn_status == TurnStatus.PENDING
        assert harness.rasa.received == []

    assert await harness.sweep() == [conversation_id]  # the claim past the limit gives up
    assert harness.poison_calls == MAX_ATTEMPTS
    assert (await harness.message(poison_id)).turn_status == TurnStatus.DONE
    conversation = await harness.conversation(conversation_id)
    assert conversation.state == ConversationState.QUEUED and conversation.escalated
    assert conversation.escalation_reason == ROUTING_FAILED
    # The ones after it were routed on: to the person who now owns the conversation.
    assert (await harness.message(next_id)).turn_status == TurnStatus.DONE
    assert await harness.sweep() == []
    said = await harness.said_to_customer(conversation_id)
    assert [kind for kind, _ in said] == ["system", "system"]
    assert "a representative will reply" in said[0][1]  # told once a person will reply
    assert said[1][1] == queue_notice_text(24)  # and once that later messages were added
    async with harness.gateway.services.session_factory() as session:
        audit = list(await session.scalars(select(AuditEvent.reason)))
    assert audit == [f"handoff: {ROUTING_FAILED}"]

    messages = [r.getMessage() for r in caplog.records]
    failed = [r for r in caplog.records if r.getMessage().startswith("turn.failed ")]
    assert len(failed) == MAX_ATTEMPTS and all(r.exc_info for r in failed)
    assert [m for m in messages if m.startswith("turn.gave_up ")] == [
        f"turn.gave_up conversation_id={conversation_id} message_id={poison_id} "
        f"attempts={MAX_ATTEMPTS} handed_off=True"
    ]
    assert not [m for m in messages if POISON in m]
    assert not [m for m in messages if m.startswith("background.failed")]
    assert harness.counted("caricom_turns_total", outcome="failed") == MAX_ATTEMPTS
    assert harness.counted("caricom_turns_total", outcome="gave_up") == 1
    assert harness.counted("caricom_handoffs_total", reason=ROUTING_FAILED) == 1


async def test_a_message_that_fails_once_is_answered_on_the_next_try(harness: Harness) -> None:
    conversation_id, message_id = await harness.receive("where is my order")
    rasa_client = harness.gateway.services.rasa
    working_turn: TurnMethod = rasa_client.turn
    failures = 0

    async def fails_once(**kwargs: Any) -> Turn:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("a passing fault")
        return await working_turn(**kwargs)

    rasa_client.turn = fails_once  # type: ignore[method-assign]
    await harness.router.process(conversation_id)
    assert (await harness.message(message_id)).turn_status == TurnStatus.PENDING

    assert await harness.sweep() == [conversation_id]
    message = await harness.message(message_id)
    assert (message.turn_status, message.route_attempts) == (TurnStatus.DONE, 2)
    assert message.intent == "track_order"
    assert await harness.said_to_customer(conversation_id) == [
        ("bot", "Open My Orders to track it.")
    ]
    conversation = await harness.conversation(conversation_id)
    assert conversation.state == ConversationState.BOT and not conversation.escalated


async def test_instances_dying_on_a_message_use_up_its_attempts_too(harness: Harness) -> None:
    conversation_id, message_id = await harness.receive("where is my order")
    # Claimed MAX_ATTEMPTS times by instances that died mid-turn; the last lease has run out.
    async with harness.gateway.services.session_factory() as session, session.begin():
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                turn_status=TurnStatus.ROUTING,
                turn_lease_until=utcnow(),
                route_attempts=MAX_ATTEMPTS,
            )
        )
    assert await harness.sweep() == [conversation_id]
    assert harness.rasa.received == []  # not tried a fourth time
    assert (await harness.message(message_id)).turn_status == TurnStatus.DONE
    conversation = await harness.conversation(conversation_id)
    assert conversation.escalation_reason == ROUTING_FAILED


async def test_a_claim_whose_lease_ran_out_counts_as_an_attempt(harness: Harness) -> None:
    conversation_id, message_id = await harness.receive("where is my order")
    rasa_client = harness.gateway.services.rasa
    working_turn: TurnMethod = rasa_client.turn
    started = asyncio.Event()

    async def hangs_once(**kwargs: Any) -> Turn:
        if not started.is_set():
            started.set()
            await asyncio.Event().wait()  # this instance "hangs" past its lease
        return await working_turn(**kwargs)

    rasa_client.turn = hangs_once  # type: ignore[method-assign]
    services = harness.gateway.services
    # Another instance on the same store (and, here, the same Rasa client).
    other = ConversationRouter(
        session_factory=services.session_factory,
        rasa=services.rasa,
        replies=services.replies,
        promise_hours=24,
        targets=services.targets,
        turn_lease=timedelta(seconds=LEASE_SECONDS),
    )
    hung = asyncio.create_task(harness.router.process(conversation_id))
    try:
        await asyncio.wait_for(started.wait(), 5)
        # Once the lease runs out, the other instance's sweep takes the message over.
        await eventually(lambda: other.pending_conversations(), timeout=5)
        assert await other.pending_conversations() == [conversation_id]
        await other.process(conversation_id)
    finally:
        hung.cancel()
        await asyncio.gather(hung, return_exceptions=True)
    message = await harness.message(message_id)
    assert (message.turn_status, message.route_attempts) == (TurnStatus.DONE, 2)


async def test_a_turn_stopped_by_a_shutdown_is_handed_back_without_using_an_attempt(
    harness: Harness,
) -> None:
    conversation_id, message_id = await harness.receive("where is my order")
    started = asyncio.Event()

    async def slow(**kwargs: Any) -> Turn:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    harness.gateway.services.rasa.turn = slow  # type: ignore[method-assign]
    task = asyncio.create_task(harness.router.process(conversation_id))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    message = await harness.message(message_id)
    assert (message.turn_status, message.route_attempts) == (TurnStatus.PENDING, 0)


async def test_a_message_held_for_a_person_that_fails_is_given_up_without_a_second_handoff(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.rasa.reply = {
        "messages": [{"custom": {"handoff": {"reason": "customer_request", "priority": "high"}}}],
        "intent": {"name": "contact_human_agent", "confidence": 0.99},
    }
    await harness.router.handle(
        InboundMessage(channel=Channel.WEBCHAT, address=ADDRESS, text="agent please")
    )

    async def broken_hold(conversation_id: int, message_id: int) -> None:
        raise RuntimeError("holding for a person failed")

    monkeypatch.setattr(harness.router, "_hold_for_person", broken_hold)
    conversation_id, message_id = await harness.receive("are you there?")
    await harness.router.process(conversation_id)
    for _ in range(MAX_ATTEMPTS):
        await harness.sweep()
    assert (await harness.message(message_id)).turn_status == TurnStatus.DONE
    conversation = await harness.conversation(conversation_id)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "customer_request"  # the person's, unchanged
    said = await harness.said_to_customer(conversation_id)
    assert len(said) == 1  # the first handoff's promise; nothing more
    assert harness.counted("caricom_handoffs_total", reason=ROUTING_FAILED) == 0
