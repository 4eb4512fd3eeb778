"""kill -9 the Rasa server mid-conversation: customers are told and queued; when it is back,
the bot answers again without anyone restarting the gateway.

Its own Rasa server (the session's shared one must stay up for other tests), the gateway in
the test's process on SQLite, web chat customers writing while the server dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.store.models import Conversation, ConversationState, Message, TurnStatus
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.webchat_customer import WebChatCustomer

UNAVAILABLE_REASON = "assistant_unavailable"


@pytest.fixture
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RasaStack]:
    workdir = tmp_path_factory.mktemp("rasa-outage")
    stack = await asyncio.to_thread(RasaStack(workdir=workdir).start)
    yield stack
    await asyncio.to_thread(stack.stop)


async def _conversation(gateway: LiveGateway, customer: WebChatCustomer) -> Conversation:
    async with gateway.services.session_factory() as session:
        found = await session.scalar(
            select(Conversation).where(Conversation.address == customer.address)
        )
    assert found is not None
    return found


async def _ready(gateway: LiveGateway) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{gateway.url}/readyz")).status_code


async def _write_until_queued(customer: WebChatCustomer) -> list[str]:
    """Write, wait for each answer, write again, until told a person will reply.

    Every message is answered: by the bot, or, once it is gone, with the promise of a person
    (after which the queue holds the customer's messages for that person).
    """
    answers: list[str] = []
    while not any("24 hours" in text for text in answers):
        replies = await customer.say("where is my order", timeout=20)
        answers.extend(r["text"] for r in replies)
    return answers


async def test_customers_are_queued_while_rasa_is_down_and_the_bot_resumes_after(
    stack: RasaStack, sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        sqlite_url, stack.rasa_url, RATE_LIMIT_PER_MINUTE=100000, RATE_LIMIT_BURST=100000
    )
    async with running_gateway(settings) as gateway:
        before = await WebChatCustomer().connect(gateway.url)
        [answer] = await before.say("how do I reset my password")
        assert "password" in answer["text"].lower()

        # Customers mid-conversation while the server dies under them.
        writers = [await WebChatCustomer().connect(gateway.url) for _ in range(3)]
        writing = [asyncio.create_task(_write_until_queued(w)) for w in writers]
        await asyncio.sleep(1.0)
        stack.kill_rasa()
        for answers in await asyncio.wait_for(asyncio.gather(*writing), timeout=60):
            assert len(answers) > 2  # answered by the bot before the kill, then told

        assert await _ready(gateway) == 503  # says what is down
        during = await WebChatCustomer().connect(gateway.url)
        told = await during.say("can I get a refund")
        assert any("24 hours" in r["text"] for r in told), told
        for customer in [*writers, during]:
            conversation = await _conversation(gateway, customer)
            assert conversation.state == ConversationState.QUEUED
            assert conversation.escalation_reason == UNAVAILABLE_REASON

        # Back: no restart of the gateway, no one told it.
        await asyncio.to_thread(stack.start_rasa)
        assert await _ready(gateway) == 200
        after = await WebChatCustomer().connect(gateway.url)
        [answer] = await after.say("how do I reset my password")
        assert "password" in answer["text"].lower()
        # The customer from before the outage, who never wrote during it, is still the bot's.
        [answer] = await before.say("what payment methods do you take")
        assert (await _conversation(gateway, before)).state == ConversationState.BOT
        assert "24 hours" not in answer["text"]

        async with gateway.services.session_factory() as session:
            unrouted = await session.scalar(
                select(Message.id).where(Message.turn_status != TurnStatus.DONE)
            )
        assert unrouted is None
        for customer in [before, *writers, during, after]:
            await customer.close()
