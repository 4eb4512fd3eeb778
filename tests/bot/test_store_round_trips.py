"""Store round trips per message: what a web chat turn, a Twilio webhook's acknowledgement and a
delivery status callback cost the store, counted on the gateway's own engine.

Each statement, BEGIN, COMMIT and ROLLBACK is a round trip (to PostgreSQL over the network, to
SQLite through aiosqlite's thread), so these budgets are the gateway's floor of work per
message. Counted are the statements of the message's own request (its Socket.IO event or HTTP
request); the background loops (outbox poller, SLA clock, the turn an acknowledged webhook
starts) run in tasks of their own and are left out.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.models import Delivery, DeliveryStatus
from tests.support.net import eventually
from tests.support.twilio_standin import TwilioHarness, running_twilio_gateway, sms
from tests.support.webchat_customer import WebChatCustomer

CUSTOMER = "+12465550177"
MESSAGES = 5


class RoundTrips:
    """Counts the engine's round trips made by request tasks (not by named background ones)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._engine = engine.sync_engine
        self._listeners: list[tuple[str, Any]] = [
            ("before_cursor_execute", lambda *args: self._count("statement")),
            ("begin", lambda *args: self._count("begin")),
            ("commit", lambda *args: self._count("commit")),
            ("rollback", lambda *args: self._count("rollback")),
        ]

    def _count(self, kind: str) -> None:
        task = asyncio.current_task()
        # Requests run in tasks asyncio names itself; the gateway names every task it spawns.
        if task is not None and task.get_name().startswith("Task-"):
            self.counts[kind] += 1

    @contextmanager
    def counting(self) -> Iterator[collections.Counter[str]]:
        for name, listener in self._listeners:
            event.listen(self._engine, name, listener)
        self.counts.clear()
        try:
            yield self.counts
        finally:
            for name, listener in self._listeners:
                event.remove(self._engine, name, listener)


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(
        database_url,
        RATE_LIMIT_PER_MINUTE=100000,
        RATE_LIMIT_BURST=100000,
        WEBCHAT_ADDRESS_PER_MINUTE=100000,
        WEBCHAT_ADDRESS_BURST=100000,
    ) as harness:
        yield harness


async def test_a_web_chat_turn_costs_two_transactions_and_eleven_statements(
    h: TwilioHarness,
) -> None:
    customer = await WebChatCustomer().connect(h.gateway.url)
    await customer.say("hello")  # the conversation and its first episode exist from here
    round_trips = RoundTrips(h.gateway.services.engine)
    with round_trips.counting() as counts:
        for _ in range(MESSAGES):
            await customer.say("where is my order")
    await customer.close()
    # Stored already claimed (one commit), then the turn's outcome with its reply (one commit).
    assert counts["begin"] == counts["commit"] == 2 * MESSAGES
    assert counts["rollback"] == 0
    assert counts["statement"] <= 11 * MESSAGES, counts


async def _all_sent(h: TwilioHarness, count: int) -> None:
    """The replies are at Twilio and recorded as sent: the turns' work is over."""

    async def recorded() -> bool:
        deliveries = await h.all(Delivery)
        return len(deliveries) == count and all(d.status == DeliveryStatus.SENT for d in deliveries)

    await h.api.wait_for(CUSTOMER, count)
    await eventually(recorded)


async def test_a_twilio_webhook_is_acknowledged_after_one_transaction(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "hello"))
    await _all_sent(h, 1)
    round_trips = RoundTrips(h.gateway.services.engine)
    for sent in range(MESSAGES):
        with round_trips.counting() as counts:
            response = await h.twilio.message(sms(CUSTOMER, "where is my order"))
        assert response.status_code == 200
        # The conversation read, the message inserted, the conversation's clock updated.
        assert (counts["begin"], counts["commit"], counts["rollback"]) == (1, 1, 0)
        assert counts["statement"] <= 3, counts
        await _all_sent(h, 2 + sent)  # its turn done before the next is counted


async def test_a_delivery_status_callback_is_one_statement(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await _all_sent(h, 1)
    [sent] = h.api.sent_to(CUSTOMER)
    round_trips = RoundTrips(h.gateway.services.engine)
    with round_trips.counting() as counts:
        response = await h.twilio.status(sent["Sid"], "delivered")
    assert response.status_code == 200
    assert counts == {"begin": 1, "statement": 1, "commit": 1}
