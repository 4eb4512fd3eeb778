"""Turns in worker processes: the gateway stores and acknowledges, workers route.

The gateways run with `TURNS_IN_WORKERS`; workers are built as `caricom worker` builds them
(`gateway.worker.started_worker`), in the test's process so their routers can be watched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.settings import Settings
from bot.store.models import Message, TurnStatus
from bot.turn_worker import TurnWorker
from gateway import cli
from gateway.worker import started_worker
from tests.conftest import make_settings
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.twilio_standin import (
    SMS_NUMBER,
    TwilioHarness,
    running_twilio_gateway,
    sms,
)
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _worker_settings(redis_prefix: str, **overrides: Any) -> dict[str, Any]:
    return {
        "TURNS_IN_WORKERS": True,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "TURN_WORKER_POLL_SECONDS": 0.02,
        **overrides,
    }


@asynccontextmanager
async def harness(
    store_url: str, redis_prefix: str, rasa: RasaStandIn | None = None, **overrides: Any
) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(
        store_url, rasa=rasa, **_worker_settings(redis_prefix, **overrides)
    ) as harness:
        yield harness


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[TurnWorker]:
    async with started_worker(settings) as (_, worker):
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _turn_statuses(harness: TwilioHarness) -> list[TurnStatus | None]:
    return [m.turn_status for m in await harness.all(Message, direction="inbound")]


async def test_a_vendor_message_is_acknowledged_and_waits_in_the_store_for_a_worker(
    store_url: str, redis_prefix: str
) -> None:
    async with harness(store_url, redis_prefix) as h:
        response = await h.twilio.message(sms("+12465550123", "where is my order"))
        assert response.status_code == 200
        assert await _turn_statuses(h) == [TurnStatus.PENDING]

        # The gateway never routes it: it waits, and operators see it wait.
        await asyncio.sleep(0.5)
        assert h.rasa.received == []
        async with httpx.AsyncClient(base_url=h.gateway.url) as http:
            ready = (await http.get("/readyz")).json()
            metrics = (await http.get("/metrics")).text
        assert ready["turns"]["waiting"] == 1
        assert ready["turns"]["oldest_waiting_seconds"] >= 0.5
        assert "caricom_turns_waiting 1.0" in metrics

        # A worker takes it: the assistant is asked once and the customer answered by SMS.
        async with running_worker(h.gateway.services.settings):
            [reply] = await h.api.wait_for("+12465550123")
        assert reply["Body"].startswith("Open My Orders to track it.")
        assert reply["From"] == SMS_NUMBER
        assert [turn["message"] for turn in h.rasa.received] == ["where is my order"]
        assert await _turn_statuses(h) == [TurnStatus.DONE]
        async with httpx.AsyncClient(base_url=h.gateway.url) as http:
            assert (await http.get("/readyz")).json()["turns"]["waiting"] == 0


async def test_an_idle_worker_is_told_of_a_new_message_rather_than_finding_it_later(
    store_url: str, redis_prefix: str
) -> None:
    # It would look by itself only after a minute: the gateway's word is what wakes it.
    async with (
        harness(store_url, redis_prefix, TURN_WORKER_POLL_SECONDS=60.0) as h,
        running_worker(h.gateway.services.settings),
    ):
        await asyncio.sleep(0.5)  # its first look is done: it waits
        assert (await h.twilio.message(sms("+12465550177", "hi"))).status_code == 200
        await h.api.wait_for("+12465550177", timeout=10)


async def test_two_workers_route_every_message_once_and_in_order(
    postgres_url: str, redis_prefix: str
) -> None:
    customers = [f"+1246555{i:04d}" for i in range(8)]
    async with harness(postgres_url, redis_prefix, RATE_LIMIT_BURST=100) as h:
        for round_ in range(3):
            for customer in customers:
                params = sms(customer, f"message {round_} from {customer}")
                assert (await h.twilio.message(params)).status_code == 200
        settings = h.gateway.services.settings
        async with running_worker(settings), running_worker(settings):

            async def all_routed() -> bool:
                return set(await _turn_statuses(h)) == {TurnStatus.DONE}

            await eventually(all_routed, timeout=30)
    said = [str(turn["message"]) for turn in h.rasa.received]
    assert sorted(said) == sorted(f"message {r} from {c}" for r in range(3) for c in customers)
    for customer in customers:  # each customer's messages reached the assistant in order
        theirs = [text for text in said if text.endswith(customer)]
        assert theirs == [f"message {r} from {customer}" for r in range(3)]


async def test_a_stopped_worker_hands_its_turn_back_and_another_routes_it(
    postgres_url: str, redis_prefix: str
) -> None:
    slow = RasaStandIn(delay=30.0)
    async with harness(postgres_url, redis_prefix, rasa=slow, RASA_TIMEOUT_SECONDS=60.0) as h:
        await h.twilio.message(sms("+12465550123", "where is my refund"))
        settings = h.gateway.services.settings
        async with running_worker(settings) as first:
            await eventually(lambda: slow.received)  # mid-turn, waiting on the assistant
            assert first.running == 1
        # Stopped: the claim went back at once, without counting against the message.
        [message] = await h.all(Message, direction="inbound")
        assert (message.turn_status, message.route_attempts) == (TurnStatus.PENDING, 0)

        slow.delay = 0.0
        async with running_worker(settings):
            await h.api.wait_for("+12465550123")
        [message] = await h.all(Message, direction="inbound")
        assert (message.turn_status, message.route_attempts) == (TurnStatus.DONE, 1)


async def test_web_chat_stays_live_in_the_gateway(sqlite_url: str, redis_prefix: str) -> None:
    async with AsyncExitStack() as stack:
        rasa = await stack.enter_async_context(running_rasa_standin())
        settings = make_settings(sqlite_url, rasa.url, **_worker_settings(redis_prefix))
        gateway = await stack.enter_async_context(running_gateway(settings))
        customer = await WebChatCustomer().connect(gateway.url)
        stack.push_async_callback(customer.close)
        # No worker runs: the gateway answered the customer waiting on the socket.
        [reply, *_] = await customer.say("where is my order")
        assert reply["text"] == "Open My Orders to track it."


def test_workers_need_redis_and_the_gateways_setting() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        make_settings("sqlite:///unused.db", TURNS_IN_WORKERS=True)

    result = CliRunner().invoke(cli.app, ["worker"], env={"TURNS_IN_WORKERS": "false"})
    assert result.exit_code == 2
    assert "set TURNS_IN_WORKERS=true" in result.output
