"""kill -9 one of two gateway instances (or turn workers) under load, then start it again:
nothing is lost.

Customers write by SMS, WhatsApp and Telegram to both instances (as a load balancer spreads
them) while the real assistant answers. Instance A is killed with SIGKILL mid-load, so turns
it was routing and replies it was sending are cut off wherever they were. Requests it never
answered are retried by the "vendor" (Twilio and Telegram retry what was not acknowledged).
Afterwards: every acknowledged message is stored once and answered, every reply reached the
vendor, Twilio replies exactly once (a send cut off midway is looked up at Twilio before it is
sent again) and Telegram replies at most once more than the sends logged as resent in doubt
(Telegram cannot be asked what was sent).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bench.rasa_stack import RasaStack
from bot.messages import Channel, Direction
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Delivery, DeliveryStatus, Message, TurnStatus
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.gateway_process import GatewayProcess, WorkerProcess
from tests.support.net import eventually
from tests.support.telegram_standin import (
    WEBHOOK_SECRET,
    TelegramStandIn,
    Updates,
    running_telegram_standin,
)
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
    whatsapp,
)

pytestmark = pytest.mark.postgres

QUESTIONS = [
    "where is my order",
    "how do I reset my password",
    "what payment methods do you take",
    "can I get a refund",
    "hi",
    "do you ship to Trinidad",
    "thanks",
]
LOAD_SECONDS = 9.0
KILL_AT = 3.0
RESTART_AT = 5.0
LEASE_SECONDS = "4"


@dataclass
class Delivered:
    """One inbound message as its vendor sees it: acknowledged or still to be retried."""

    channel: Channel
    external_id: str
    send: object  # a coroutine factory: (gateway url) -> httpx.Response
    acknowledged: bool = False


@dataclass
class Load:
    twilio: TwilioWebhookSender
    http: httpx.AsyncClient
    gateways: list[GatewayProcess]
    updates: Updates = field(default_factory=Updates)
    messages: list[Delivered] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    async def offer(self, message: Delivered, gateway: GatewayProcess) -> None:
        """Post once; what is not acknowledged with 200 the vendor keeps for a retry."""
        try:
            response = await message.send(gateway.url)  # type: ignore[operator]
        except httpx.HTTPError as error:
            self.refused[type(error).__name__] += 1
            return
        if response.status_code == 200:
            message.acknowledged = True
        else:
            self.refused[f"HTTP {response.status_code}"] += 1


def _sms_message(load: Load, customer: str, text: str) -> Delivered:
    form = sms(customer, text)

    async def send(url: str) -> httpx.Response:
        return await load.twilio.post("/channels/twilio/webhook", form, base_url=url)

    return Delivered(Channel.SMS, form["MessageSid"], send)


def _whatsapp_message(load: Load, phone: str, text: str) -> Delivered:
    form = whatsapp(phone, text)

    async def send(url: str) -> httpx.Response:
        return await load.twilio.post("/channels/twilio/webhook", form, base_url=url)

    return Delivered(Channel.WHATSAPP, form["MessageSid"], send)


def _telegram_message(load: Load, chat_id: int, text: str) -> Delivered:
    update = load.updates.message(text, chat={"id": chat_id, "type": "private"})
    body = json.dumps(update).encode()

    async def send(url: str) -> httpx.Response:
        return await load.http.post(
            f"{url}/channels/telegram/webhook",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            },
        )

    return Delivered(Channel.TELEGRAM, str(update["update_id"]), send)


def _sms_writer(load: Load, customer: str) -> Callable[[str], Delivered]:
    return lambda text: _sms_message(load, customer, text)


def _whatsapp_writer(load: Load, phone: str) -> Callable[[str], Delivered]:
    return lambda text: _whatsapp_message(load, phone, text)


def _telegram_writer(load: Load, chat_id: int) -> Callable[[str], Delivered]:
    return lambda text: _telegram_message(load, chat_id, text)


async def _customer(
    load: Load, make: Callable[[str], Delivered], seed: int, stop_at: float
) -> None:
    """One customer writing every ~0.3-0.7 s to alternating instances until `stop_at`."""
    rng = random.Random(seed)
    turn = itertools.count(seed)
    while time.monotonic() < stop_at:
        message = make(rng.choice(QUESTIONS))
        load.messages.append(message)
        await load.offer(message, load.gateways[next(turn) % 2])
        await asyncio.sleep(rng.uniform(0.3, 0.7))


@pytest.fixture
async def stand_ins() -> AsyncIterator[tuple[TwilioStandIn, TelegramStandIn]]:
    async with running_twilio_standin() as twilio, running_telegram_standin() as telegram:
        yield twilio, telegram


def _environment(
    postgres_url: str,
    redis_prefix: str,
    rasa_stack: RasaStack,
    stand_ins: tuple[TwilioStandIn, TelegramStandIn],
    **extra: str,
) -> dict[str, str]:
    twilio_api, telegram_api = stand_ins
    return {
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",  # the outbox's reconciliations are counted from the logs
        "DATABASE_URL": postgres_url,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "RASA_URL": rasa_stack.rasa_url,
        "TELEGRAM_BOT_TOKEN": telegram_api.token,
        "TELEGRAM_SECRET_TOKEN": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_api.url,
        # Load-test customers write faster than people do.
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_BURST": "100000",
        # Short leases, so what the dead instance held is taken over within the test.
        "TURN_LEASE_SECONDS": LEASE_SECONDS,
        "DELIVERY_LEASE_SECONDS": LEASE_SECONDS,
        "TURN_SWEEP_SECONDS": "1",
        **{key: str(value) for key, value in twilio_settings(twilio_api.url).items()},
        **extra,
    }


async def _load_with(load: Load, crash: Callable[[], Awaitable[None]]) -> None:
    """Twelve customers on three channels write to both gateways while `crash` runs."""
    stop_at = time.monotonic() + LOAD_SECONDS
    writers = [
        *(_sms_writer(load, f"+1246555{i:04d}") for i in range(6)),
        *(_whatsapp_writer(load, f"+1868555{i:04d}") for i in range(3)),
        *(_telegram_writer(load, 7_000_000 + i) for i in range(3)),
    ]
    customers = [_customer(load, write, seed, stop_at) for seed, write in enumerate(writers)]
    await asyncio.gather(crash(), *customers)
    # The vendors retry what was never acknowledged, until it is.
    for message in load.messages:
        while not message.acknowledged:
            await load.offer(message, load.gateways[1])


async def _nothing_lost_or_sent_twice(
    load: Load,
    postgres_url: str,
    stand_ins: tuple[TwilioStandIn, TelegramStandIn],
    logs_in: Path,
) -> str:
    """Every acknowledged message stored once and answered, every reply sent once; a summary."""
    twilio_api, telegram_api = stand_ins
    acknowledged = {(m.channel, m.external_id) for m in load.messages}
    assert len(acknowledged) == len(load.messages) > 100
    engine = create_engine(postgres_url)
    sessions = create_session_factory(engine)
    try:

        async def all_answered() -> bool:
            async with sessions() as session:
                stored = (
                    await session.execute(
                        select(Message.channel, Message.external_id, Message.turn_status).where(
                            Message.direction == Direction.INBOUND
                        )
                    )
                ).all()
                unsent = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status != DeliveryStatus.SENT)
                )
            stored_ids = Counter((Channel(c), e) for c, e, _ in stored)
            assert all(count == 1 for count in stored_ids.values()), "stored twice"
            return (
                set(stored_ids) == acknowledged
                and all(status == TurnStatus.DONE for _, _, status in stored)
                and unsent == 0
            )

        await eventually(all_answered, timeout=90, interval=0.5)

        async with sessions() as session:
            deliveries = list(await session.scalars(select(Delivery)))
            taken_over = await session.scalar(
                select(func.count()).select_from(Message).where(Message.route_attempts > 1)
            )
    finally:
        await engine.dispose()
    by_channel = Counter(d.channel for d in deliveries)
    assert all(by_channel[c] > 0 for c in (Channel.SMS, Channel.WHATSAPP, Channel.TELEGRAM))

    twilio_ids = {
        d.provider_message_id for d in deliveries if d.channel in (Channel.SMS, Channel.WHATSAPP)
    }
    twilio_sent = [m["Sid"] for m in twilio_api.sent]
    assert len(twilio_sent) == len(twilio_ids), "a Twilio reply went out twice (or was lost)"
    assert set(twilio_sent) == twilio_ids

    telegram_deliveries = [d for d in deliveries if d.channel == Channel.TELEGRAM]
    logs = "".join(log.read_text() for log in sorted(logs_in.glob("*.log")))  # noqa: ASYNC240
    resent_in_doubt = logs.count("outbox.resent_in_doubt")
    extra = len(telegram_api.messages) - len(telegram_deliveries)
    assert 0 <= extra <= resent_in_doubt, (extra, resent_in_doubt)
    return (
        f"messages={len(load.messages)} refused={dict(load.refused)} "
        f"deliveries={dict(by_channel)} turns_taken_over={taken_over} "
        f"reconciled_at_twilio={logs.count('outbox.reconciled')} "
        f"telegram_resent_in_doubt={resent_in_doubt} telegram_extra={extra}"
    )


async def test_a_killed_instance_loses_no_message_and_sends_no_reply_twice(
    postgres_url: str,
    redis_prefix: str,
    rasa_stack: RasaStack,
    stand_ins: tuple[TwilioStandIn, TelegramStandIn],
    tmp_path: Path,
) -> None:
    twilio_api, _ = stand_ins
    # Twilio takes a while to answer, so the kill finds sends in flight: Twilio has them, the
    # killed instance never hears so.
    twilio_api.delay = 0.15
    env = _environment(postgres_url, redis_prefix, rasa_stack, stand_ins)
    a = GatewayProcess(env=env, log_path=tmp_path / "gateway-a.log").start()
    b = GatewayProcess(env=env, log_path=tmp_path / "gateway-b.log").start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            load = Load(twilio=TwilioWebhookSender(a.url), http=http, gateways=[a, b])

            async def crash() -> None:
                await asyncio.sleep(KILL_AT)
                a.kill()
                await asyncio.sleep(RESTART_AT - KILL_AT)
                await asyncio.to_thread(a.start)

            await _load_with(load, crash)
            assert load.refused, "the kill landed outside the load: nothing was refused"
            await load.twilio.close()
        print(await _nothing_lost_or_sent_twice(load, postgres_url, stand_ins, tmp_path))
    finally:
        a.stop()
        b.stop()


async def test_a_killed_turn_worker_loses_no_message_and_sends_no_reply_twice(
    postgres_url: str,
    redis_prefix: str,
    rasa_stack: RasaStack,
    stand_ins: tuple[TwilioStandIn, TelegramStandIn],
    tmp_path: Path,
) -> None:
    """The same load with turns in two workers (TURNS_IN_WORKERS); one is killed and restarted.

    The gateways only store and acknowledge, so nothing is refused; what the killed worker held
    (turns mid-way, replies mid-send) is taken over by the other once its lease runs out.
    """
    twilio_api, _ = stand_ins
    twilio_api.delay = 0.15
    env = _environment(postgres_url, redis_prefix, rasa_stack, stand_ins, TURNS_IN_WORKERS="true")
    processes = [
        GatewayProcess(env=env, log_path=tmp_path / "gateway-a.log").start(),
        GatewayProcess(env=env, log_path=tmp_path / "gateway-b.log").start(),
        WorkerProcess(env=env, log_path=tmp_path / "worker-a.log").start(),
        WorkerProcess(env=env, log_path=tmp_path / "worker-b.log").start(),
    ]
    a, b, worker_a, _ = processes
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            load = Load(twilio=TwilioWebhookSender(a.url), http=http, gateways=[a, b])

            async def crash() -> None:
                await asyncio.sleep(KILL_AT)
                worker_a.kill()
                await asyncio.sleep(RESTART_AT - KILL_AT)
                await asyncio.to_thread(worker_a.start)

            await _load_with(load, crash)
            assert not load.refused  # the gateways never stopped acknowledging
            await load.twilio.close()
        print(await _nothing_lost_or_sent_twice(load, postgres_url, stand_ins, tmp_path))
    finally:
        for process in processes:
            process.stop()
