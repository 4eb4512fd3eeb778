"""The database goes away and comes back, with the gateway running throughout.

The product's promise: while the store is away, vendor webhooks answer 503 so the vendor
delivers again (never a 200 that loses the message, never a 500), a web chat customer is told,
`/readyz` says the store is down while `/healthz` stays up, and the background loops live on.
When the store returns, nothing is restarted: the vendors' retries are taken once each, work
that was in flight or due during the outage is finished, and `/readyz` is 200 again.

The gateway reaches PostgreSQL through a local TCP proxy (tests/support/tcp_proxy.py) that the
test cuts and restores; the machine's PostgreSQL itself is shared and is never stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.messages import Reply, SenderKind
from bot.router import ConversationRouter
from bot.store.models import Contact, Delivery, DeliveryStatus, JobLease, Message, utcnow
from channels.twilio import consent
from handoff.monitor import SLA_JOB
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.tcp_proxy import TcpProxy, running_tcp_proxy
from tests.support.telegram_standin import (
    CUSTOMER as TELEGRAM_CUSTOMER,
)
from tests.support.telegram_standin import (
    WEBHOOK_SECRET,
    TelegramHarness,
    TelegramStandIn,
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
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.postgres

T = TypeVar("T")

ANSWER = "Open My Orders to track it."  # what the Rasa stand-in says to everything
# The background loops the gateway starts, by task name (gateway/app.py).
LOOPS = frozenset({"outbox", "resume-turns", "sla-monitor"})
# Every wait is bounded; the outage itself lasts a few seconds.
RECOVERY_SECONDS = 10.0


@dataclass
class World:
    """A gateway on PostgreSQL through a proxy, with stand-ins of Rasa, Twilio and Telegram."""

    proxy: TcpProxy
    gateway: LiveGateway
    rasa: RasaStandIn
    api: TwilioStandIn
    twilio: TwilioWebhookSender
    telegram: TelegramHarness
    http: httpx.AsyncClient
    log: pytest.LogCaptureFixture
    answers: list[int] = field(default_factory=list)  # every webhook status the gateway gave

    @property
    def telegram_api(self) -> TelegramStandIn:
        return self.telegram.telegram

    @property
    def router(self) -> ConversationRouter:
        return self.gateway.services.router

    async def sms(self, sender: str, text: str, *, sid: str) -> int:
        return self._seen((await self.twilio.message(sms(sender, text, sid=sid))).status_code)

    async def whatsapp(self, sender: str, text: str, *, sid: str) -> int:
        response = await self.twilio.message(whatsapp(sender, text, sid=sid))
        return self._seen(response.status_code)

    async def status_callback(self, sid: str, status: str) -> int:
        return self._seen((await self.twilio.status(sid, status)).status_code)

    async def telegram_update(self, update: dict[str, Any]) -> int:
        return self._seen((await self.telegram.post(update)).status_code)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(self.gateway.url + path)

    async def rows(self, model: type[T], **where: Any) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            found = await session.scalars(
                select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
            )
            return list(found)

    def logged(self, event: str) -> int:
        return sum(1 for r in self.log.records if r.getMessage().startswith(event))

    def _seen(self, status: int) -> int:
        self.answers.append(status)
        return status


@pytest.fixture
async def world(postgres_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    database = make_url(postgres_url)
    async with (
        running_tcp_proxy(database.host or "127.0.0.1", database.port or 5432) as proxy,
        running_rasa_standin() as rasa,
        running_twilio_standin() as api,
        running_telegram_standin() as telegram_api,
    ):
        settings = make_settings(
            database.set(port=proxy.port).render_as_string(hide_password=False),
            rasa.url,
            **twilio_settings(api.url),
            TELEGRAM_BOT_TOKEN=telegram_api.token,
            TELEGRAM_SECRET_TOKEN=WEBHOOK_SECRET,
            TELEGRAM_API_BASE_URL=telegram_api.url,
            # Short clocks keep the test bounded: the sweep looks for unrouted messages every
            # 0.2 s, a turn cut off mid-way is free to take again after 1 s.
            TURN_SWEEP_SECONDS=0.2,
            TURN_LEASE_SECONDS=1.0,
            SLA_MONITOR_INTERVAL_SECONDS=0.2,
        )
        async with (
            running_gateway(settings) as gateway,
            httpx.AsyncClient(timeout=15) as http,
        ):
            logging.getLogger().addHandler(caplog.handler)  # the app reconfigured logging
            caplog.set_level(logging.INFO)
            twilio = TwilioWebhookSender(gateway.url)
            try:
                yield World(
                    proxy=proxy,
                    gateway=gateway,
                    rasa=rasa,
                    api=api,
                    twilio=twilio,
                    telegram=TelegramHarness(gateway=gateway, telegram=telegram_api, http=http),
                    http=http,
                    log=caplog,
                )
            finally:
                proxy.restore()  # a failed test still shuts the gateway down cleanly
                await twilio.close()


def _loops_alive(world: World) -> set[str]:
    """The background loops still running (a dead one has left `services.background`)."""
    running = {t.get_name() for t in world.gateway.services.background if not t.done()}
    return set(LOOPS & running)


async def _ready(world: World) -> bool:
    return (await world.get("/readyz")).status_code == 200


async def _sla_ran_since(world: World, moment: datetime) -> bool:
    async with world.gateway.services.session_factory() as session:
        lease = await session.get(JobLease, SLA_JOB)
    return lease is not None and lease.last_run_at is not None and lease.last_run_at > moment


async def _all_sent(world: World) -> bool:
    """Every reply is sent and recorded so (nothing of it still talks to the store)."""
    deliveries = await world.rows(Delivery)
    return bool(deliveries) and all(d.status == DeliveryStatus.SENT for d in deliveries)


async def _customer_texts(world: World) -> list[str]:
    return [m.text for m in await world.rows(Message, sender_kind=SenderKind.CUSTOMER)]


async def test_webhooks_get_503_while_the_store_is_away_and_their_retries_are_taken_once(
    world: World,
) -> None:
    sms_customer, whatsapp_customer = "+12465550140", "+12465550141"
    chat_id = TELEGRAM_CUSTOMER["id"]
    # Before the outage: an SMS answered, whose delivery report will arrive during it.
    assert await world.sms(sms_customer, "where is my order", sid="SMbefore") == 200
    [answered] = await world.api.wait_for(sms_customer)
    await eventually(lambda: _delivery_sent(world, answered["Sid"]), timeout=5)

    await world.proxy.cut()
    update = world.telegram.updates.message("where is my parcel")
    assert await world.sms(sms_customer, "and my refund", sid="SMduring") == 503
    assert await world.whatsapp(whatsapp_customer, "track CC-123456", sid="SMwhatsapp") == 503
    assert await world.telegram_update(update) == 503
    assert await world.status_callback(answered["Sid"], "delivered") == 503
    ready = await world.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"].startswith("unreachable")
    assert ready.json()["checks"]["assistant"] == "ok"
    assert (await world.get("/healthz")).status_code == 200
    assert world.rasa.received[1:] == []  # nothing was routed that was not stored
    assert world.proxy.refused > 0  # the gateway did try, and was turned away

    world.proxy.restore()
    # The vendors deliver the very same requests again, with no restart in between.
    assert await world.sms(sms_customer, "and my refund", sid="SMduring") == 200
    assert await world.whatsapp(whatsapp_customer, "track CC-123456", sid="SMwhatsapp") == 200
    assert await world.telegram_update(update) == 200
    assert await world.status_callback(answered["Sid"], "delivered") == 200
    await eventually(lambda: _ready(world), timeout=RECOVERY_SECONDS)

    await world.api.wait_for(sms_customer, 2)
    await world.api.wait_for(f"whatsapp:{whatsapp_customer}", 1)
    await eventually(lambda: len(world.telegram_api.sent_to(chat_id)) >= 1, timeout=5)
    await asyncio.sleep(0.5)  # time for a second answer, were one wrongly sent
    assert len(world.api.sent_to(sms_customer)) == 2
    assert len(world.api.sent_to(f"whatsapp:{whatsapp_customer}")) == 1
    assert [m["text"] for m in world.telegram_api.sent_to(chat_id)] == [ANSWER]
    stored = {m.external_id: m.text for m in await world.rows(Message)}
    assert sorted(await _customer_texts(world)) == sorted(
        ["where is my order", "and my refund", "track CC-123456", "where is my parcel"]
    )
    assert stored["SMduring"] == "and my refund" and stored["SMwhatsapp"] == "track CC-123456"
    assert stored[str(update["update_id"])] == "where is my parcel"
    [delivery] = await world.rows(Delivery, provider_message_id=answered["Sid"])
    assert delivery.status == DeliveryStatus.DELIVERED
    assert 500 not in world.answers and set(world.answers) == {200, 503}
    assert _loops_alive(world) == LOOPS
    _assert_no_customer_text_logged(
        world, ["and my refund", "track CC-123456", "where is my parcel"]
    )


async def _delivery_sent(world: World, sid: str) -> bool:
    found = await world.rows(Delivery, provider_message_id=sid)
    return bool(found) and found[0].status == DeliveryStatus.SENT


async def test_a_web_chat_customer_is_told_while_the_store_is_away(world: World) -> None:
    writer = await WebChatCustomer().connect(world.gateway.url)
    try:
        await world.proxy.cut()
        await writer.client.emit(
            "user_uttered", {"message": "is anyone there", "session_id": writer.session_id}
        )
        error = await asyncio.wait_for(writer.errors.get(), 10)
        assert "could not take your message" in error["message"]
        assert writer.inbox.empty()  # no pretend answer

        world.proxy.restore()
        await eventually(lambda: _ready(world), timeout=RECOVERY_SECONDS)
        # Told it did not go, the customer sends it again: answered, and stored once.
        [reply, *_] = await writer.say("is anyone there", timeout=5)
        assert reply["text"] == ANSWER
        assert await _customer_texts(world) == ["is anyone there"]
        assert writer.errors.empty()
    finally:
        await writer.close()
    assert _loops_alive(world) == LOOPS


async def test_a_web_chat_customer_returning_while_the_store_is_away_gets_what_waited(
    world: World,
) -> None:
    away = await WebChatCustomer().connect(world.gateway.url)
    await away.say("where is my order")
    await away.close()
    # A rep answers while the customer is gone: the reply waits in the outbox.
    [conversation_id] = {m.conversation_id for m in await world.rows(Message)}
    await world.gateway.services.replies.send(
        conversation_id,
        Reply(text="Hi, this is Keisha from support.", sender_kind=SenderKind.REP, rep_id=7),
    )
    await world.proxy.cut()
    back = await WebChatCustomer(away.session_id).connect(world.gateway.url)
    try:
        await asyncio.sleep(0.5)
        assert back.inbox.empty()
        world.proxy.restore()
        # Not reconnecting again: the waiting reply comes once the store does.
        [reply] = await back.receive(timeout=RECOVERY_SECONDS)
        assert reply["text"].startswith("Hi, this is Keisha")
    finally:
        await back.close()


async def test_work_acknowledged_or_due_before_the_outage_is_done_after_it(
    world: World,
) -> None:
    waiting, in_flight = "+12465550150", "+12465550151"
    # A reply Twilio refused for now: it is due again in 2 s, in the middle of the outage.
    world.api.fail_next(503, retry_after="2")
    assert await world.sms(waiting, "where is my order", sid="SMwaiting") == 200
    await eventually(lambda: _delivery_waiting(world), timeout=5)

    # Two turns in flight when the store goes: acknowledged (SMS 200, web chat taken), at
    # the assistant, their answers not yet committed.
    world.rasa.delay = 2.0
    chatter = await WebChatCustomer().connect(world.gateway.url)
    try:
        assert await world.sms(in_flight, "where is my refund", sid="SMinflight") == 200
        await chatter.client.emit(
            "user_uttered", {"message": "my parcel is late", "session_id": chatter.session_id}
        )
        await eventually(lambda: len(world.rasa.received) == 3, timeout=5)
        world.rasa.delay = 0.0  # the two in flight keep their 2 s
        turns = {m.conversation_id for m in await world.rows(Message)} - {
            m.conversation_id for m in await world.rows(Delivery)
        }
        assert len(turns) == 2
        await world.proxy.cut()
        cut_at = utcnow()
        assert world.api.sent_to(waiting) == [], "sent before the outage: nothing to test"

        # Both turns end without committing their answers (they come back from the assistant
        # to a store that is gone); the poller fails past the retry's due time.
        await eventually(lambda: not any(map(world.router.is_processing, turns)), timeout=10)
        await eventually(lambda: world.logged("outbox.poll_failed") >= 1, timeout=5)
        await asyncio.sleep(max(0.0, 2.2 - (utcnow() - cut_at).total_seconds()))
        assert world.api.sent_to(waiting) == [] and world.api.sent_to(in_flight) == []
        restored_at = utcnow()
        world.proxy.restore()

        [retried] = await world.api.wait_for(waiting, timeout=RECOVERY_SECONDS)
        [answered] = await world.api.wait_for(in_flight, timeout=RECOVERY_SECONDS)
        [reply, *_] = await chatter.receive(timeout=RECOVERY_SECONDS)
        assert retried["Body"].startswith(ANSWER) and answered["Body"].startswith(ANSWER)
        assert reply["text"] == ANSWER
        assert chatter.errors.empty(), "told to resend a message that was taken"
        await asyncio.sleep(0.5)  # time for a second answer, were one wrongly sent
        assert len(world.api.sent_to(waiting)) == 1 and len(world.api.sent_to(in_flight)) == 1
        assert chatter.inbox.empty()
        assert sorted(await _customer_texts(world)) == sorted(
            ["where is my order", "where is my refund", "my parcel is late"]
        )
    finally:
        await chatter.close()
    await eventually(lambda: _ready(world), timeout=RECOVERY_SECONDS)
    await eventually(lambda: _sla_ran_since(world, restored_at), timeout=RECOVERY_SECONDS)
    assert _loops_alive(world) == LOOPS
    _assert_no_customer_text_logged(world, ["where is my refund", "my parcel is late"])


async def _delivery_waiting(world: World) -> bool:
    found = await world.rows(Delivery)
    return (
        len(found) == 1
        and found[0].status == DeliveryStatus.PENDING
        and found[0].next_attempt_at is not None
    )


def _assert_no_customer_text_logged(world: World, texts: list[str]) -> None:
    """Not in any log line, nor in the tracebacks of the failures the outage caused."""
    for text in texts:
        assert text not in world.log.text, f"customer text in the logs: {text!r}"


async def test_a_restart_the_gateway_did_not_notice_costs_no_retry(world: World) -> None:
    """The store restarts between requests: every pooled connection is dead, none is used."""
    busy = [f"+1246555016{n}" for n in range(4)]
    answers = await asyncio.gather(
        *(world.sms(c, "where is my order", sid=f"SMbusy{n}") for n, c in enumerate(busy))
    )
    assert answers == [200] * len(busy)
    for customer in busy:
        await world.api.wait_for(customer)
    await eventually(lambda: _all_sent(world), timeout=5)
    assert world.gateway.services.engine.pool.checkedin() >= 2, "nothing pooled to go stale"

    await world.proxy.cut()  # over before any request or loop touched the store
    world.proxy.restore()
    update = world.telegram.updates.message("where is my parcel")
    answers = await asyncio.gather(
        world.sms("+12465550170", "and my refund", sid="SMafter"),
        world.whatsapp("+12465550171", "track CC-123456", sid="SMafterwa"),
        world.telegram_update(update),
        world.status_callback(world.api.sent_to(busy[0])[0]["Sid"], "delivered"),
    )
    assert answers == [200] * 4
    assert (await world.get("/readyz")).status_code == 200
    await world.api.wait_for("+12465550170")
    await world.api.wait_for("whatsapp:+12465550171")
    await eventually(lambda: world.telegram_api.sent_to(TELEGRAM_CUSTOMER["id"]), timeout=5)
    assert _loops_alive(world) == LOOPS


async def test_a_stop_cut_off_before_its_opt_out_is_applied_when_twilio_retries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store goes between storing a STOP and opting its sender out: the retry opts out."""
    opt_out = consent.set_opted_out

    async def store_gone_first(*args: Any, **kwargs: Any) -> None:
        await world.proxy.cut()
        await opt_out(*args, **kwargs)

    monkeypatch.setattr(consent, "set_opted_out", store_gone_first)
    assert await world.sms("+12465550180", "STOP", sid="SMstop") == 503
    monkeypatch.setattr(consent, "set_opted_out", opt_out)
    world.proxy.restore()
    assert await world.sms("+12465550180", "STOP", sid="SMstop") == 200
    [contact] = await world.rows(Contact)
    assert contact.opted_out_at is not None, "STOP stored, sender still opted in"
    assert await _customer_texts(world) == ["STOP"]
