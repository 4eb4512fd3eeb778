"""Twilio's inbound webhook over HTTP: signatures, fast acknowledgement, exactly-once, keywords,
buttons, media, one contact per phone, and a store that is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot import system_texts
from bot.messages import Reply, SenderKind
from bot.store.models import (
    Contact,
    Conversation,
    Delivery,
    DeliveryStatus,
    Message,
    TurnStatus,
)
from bot.system_texts import TextKey
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn
from tests.support.store_faults import refuse_first_message
from tests.support.twilio_standin import (
    AUTH_TOKEN,
    SMS_NUMBER,
    TwilioHarness,
    TwilioWebhookSender,
    new_sid,
    running_twilio_gateway,
    sms,
    whatsapp,
)

ATTACHMENT_NOTICE = system_texts.text(TextKey.ATTACHMENT_NOTICE, "en")

CUSTOMER = "+12465550123"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[TwilioHarness]:
    async with running_twilio_gateway(database_url) as harness:
        yield harness


@pytest.fixture
def twilio_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    logging.getLogger().addHandler(caplog.handler)  # the app reconfigured logging on start
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_a_signed_sms_is_stored_acknowledged_and_answered(h: TwilioHarness) -> None:
    response = await h.twilio.message(sms(CUSTOMER, "where is my order", sid="SMfirst"))
    assert response.status_code == 200
    assert response.text == TWIML and response.headers["content-type"].startswith("text/xml")

    [answer] = await h.api.wait_for(CUSTOMER)
    # The answer, then the "did this help?" choices as numbered lines.
    assert answer["Body"].startswith("Open My Orders to track it.\n\nReply 1 for ")
    assert answer["From"] == SMS_NUMBER
    assert answer["StatusCallback"] == "https://support.caricom.example/channels/twilio/status"
    conversation = await h.one(Conversation)
    assert conversation.channel == "sms" and conversation.address == CUSTOMER
    messages = await h.all(Message)
    assert [(m.sender_kind, m.text) for m in messages] == [
        ("customer", "where is my order"),
        ("bot", "Open My Orders to track it."),
    ]
    assert messages[0].external_id == "SMfirst" and messages[0].intent == "track_order"
    delivery = await eventually(lambda: _sent_delivery(h))
    assert delivery.provider_message_id == answer["Sid"]


async def _sent_delivery(h: TwilioHarness) -> Delivery | None:
    [delivery] = await h.all(Delivery)
    return delivery if delivery.status == DeliveryStatus.SENT else None


@pytest.mark.parametrize(
    "forgery",
    ["missing", "garbage", "wrong token", "loopback url", "body changed after signing"],
)
async def test_an_unsigned_or_forged_request_is_refused_and_logged(
    h: TwilioHarness, twilio_log: pytest.LogCaptureFixture, forgery: str
) -> None:
    params = sms(CUSTOMER, "where is my order")
    if forgery == "missing":
        response = await h.twilio.message(params, signature=None)
    elif forgery == "garbage":
        response = await h.twilio.message(params, signature="bm90IGEgc2lnbmF0dXJl")
    elif forgery == "wrong token":
        forger = TwilioWebhookSender(h.gateway.url, auth_token="f" * 32)
        response = await forger.message(params)
        await forger.close()
    elif forgery == "loopback url":
        # Signed for the address the gateway listens on, not the public one Twilio calls.
        forger = TwilioWebhookSender(h.gateway.url, public_base_url=h.gateway.url)
        response = await forger.message(params)
        await forger.close()
    else:
        signature = h.twilio.signature("/channels/twilio/webhook", params)
        response = await h.twilio.message({**params, "Body": "refund me"}, signature=signature)

    assert response.status_code == 403
    assert await h.all(Message) == []
    assert h.rasa.received == [] and h.api.attempts == []
    refused = [r.getMessage() for r in twilio_log.records if "twilio.signature_" in r.getMessage()]
    assert len(refused) == 1
    assert AUTH_TOKEN not in twilio_log.text


async def test_the_query_string_is_part_of_the_signed_url(h: TwilioHarness) -> None:
    path = "/channels/twilio/webhook?number=barbados"
    response = await h.twilio.post(path, sms(CUSTOMER, "hi"))
    assert response.status_code == 200
    # The same signature without the query does not hold for the URL with it.
    params = sms(CUSTOMER, "hi")
    response = await h.twilio.post(
        path, params, signature=h.twilio.signature("/channels/twilio/webhook", params)
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "params",
    [{"Body": "hello", "From": CUSTOMER}, {"Body": "hello", "MessageSid": "SM1"}, {}],
    ids=["no MessageSid", "no From", "empty"],
)
async def test_a_signed_but_malformed_form_is_a_clear_400(
    h: TwilioHarness, params: dict[str, str]
) -> None:
    response = await h.twilio.message(params)
    assert response.status_code == 400
    assert "MessageSid and From" in response.json()["detail"]
    assert await h.all(Message) == []


async def test_without_an_auth_token_nothing_is_accepted(sqlite_url: str) -> None:
    async with running_twilio_gateway(sqlite_url, TWILIO_AUTH_TOKEN="") as h:
        response = await h.twilio.message(sms(CUSTOMER, "hello"))
        status = await h.twilio.status(new_sid(), "delivered")
        assert await h.all(Message) == []
    assert response.status_code == 503 and status.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in response.json()["detail"]


async def test_a_repeated_message_sid_is_acknowledged_and_processed_once(
    h: TwilioHarness,
) -> None:
    params = sms(CUSTOMER, "where is my order", sid="SMagain")
    first = await h.twilio.message(params)
    await h.api.wait_for(CUSTOMER)
    second = await h.twilio.message(params)
    assert first.status_code == second.status_code == 200 and second.text == TWIML
    await asyncio.sleep(0.3)  # time for a second turn, were one wrongly started
    assert len(await h.all(Message, sender_kind=SenderKind.CUSTOMER)) == 1
    assert len(h.rasa.received) == 1 and len(h.api.sent) == 1


async def test_the_same_message_delivered_concurrently_is_processed_once(
    h: TwilioHarness,
) -> None:
    params = sms(CUSTOMER, "where is my order", sid="SMrace")
    responses = await asyncio.gather(*(h.twilio.message(params) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    await h.api.wait_for(CUSTOMER)
    await asyncio.sleep(0.3)
    assert len(await h.all(Message, sender_kind=SenderKind.CUSTOMER)) == 1
    assert len(h.rasa.received) == 1 and len(h.api.sent) == 1


async def test_a_slow_assistant_does_not_delay_the_acknowledgement(sqlite_url: str) -> None:
    async with running_twilio_gateway(sqlite_url, rasa=RasaStandIn(delay=2.0)) as h:
        started = time.perf_counter()
        response = await h.twilio.message(sms(CUSTOMER, "where is my order"))
        acknowledged = time.perf_counter() - started
        assert response.status_code == 200
        # Committed before the answer to Twilio:
        assert [m.text for m in await h.all(Message)] == ["where is my order"]
        await h.api.wait_for(CUSTOMER, timeout=10)
        answered = time.perf_counter() - started
    assert acknowledged < 0.5, f"acknowledged after {acknowledged:.2f} s"
    assert answered >= 2.0


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
async def test_buttons_are_numbered_and_a_typed_number_chooses_one(
    h: TwilioHarness, channel: str
) -> None:
    h.rasa.reply = {
        "messages": [
            {
                "text": "Is your question about tracking an order?",
                "buttons": [
                    {"title": "Yes", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                ],
            }
        ],
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
    }
    form = sms if channel == "sms" else whatsapp
    address = CUSTOMER if channel == "sms" else f"whatsapp:{CUSTOMER}"
    await h.twilio.message(form(CUSTOMER, "parcel thing"))
    [offer] = await h.api.wait_for(address)
    assert offer["Body"] == (
        "Is your question about tracking an order?\n\nReply 1 for Yes\nReply 2 for No"
    )

    h.rasa.reply = {"messages": [{"text": "Sorry about that."}], "intent": {"name": "deny"}}
    await h.twilio.message(form(CUSTOMER, " 2. "))
    await h.api.wait_for(address, 2)
    assert h.rasa.received[1]["message"] == "/deny"
    chosen = (await h.all(Message, sender_kind=SenderKind.CUSTOMER))[1]
    assert chosen.text == "No"
    assert chosen.payload == {"button_payload": "/deny", "metadata": {"typed": "2."}}

    # A number beyond the options, or with none offered since, is just text.
    await h.twilio.message(form(CUSTOMER, "7"))
    await h.api.wait_for(address, 3)
    assert h.rasa.received[2]["message"] == "7"


async def test_a_number_with_no_options_offered_is_plain_text(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "1"))
    await h.api.wait_for(CUSTOMER)
    assert h.rasa.received[0]["message"] == "1"


async def test_stop_opts_out_and_nothing_more_is_sent(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await h.api.wait_for(CUSTOMER)
    response = await h.twilio.message(sms(CUSTOMER, "Stop"))
    assert response.status_code == 200
    contact = await h.one(Contact)
    assert contact.opted_out_at is not None
    assert [m.text for m in await h.all(Message)][-1] == "Stop"
    assert len(h.rasa.received) == 1  # the bot never saw STOP

    # A person answers after the STOP: refused at send time, and the reason recorded.
    conversation = await h.one(Conversation)
    await h.gateway.services.replies.send(
        conversation.id, Reply(text="Hi, Keisha from support here.", sender_kind=SenderKind.REP)
    )
    [*_, refused] = await h.all(Delivery)
    assert refused.status == DeliveryStatus.FAILED and refused.last_error == "recipient opted out"
    assert len(h.api.sent) == 1 and len(h.api.attempts) == 1


async def test_start_opts_back_in_with_a_confirmation(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "STOP"))
    await h.twilio.message(sms(CUSTOMER, "start"))
    [confirmation] = await h.api.wait_for(CUSTOMER)
    assert "subscribed again" in confirmation["Body"]
    assert (await h.one(Contact)).opted_out_at is None
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await h.api.wait_for(CUSTOMER, 2)
    assert [turn["message"] for turn in h.rasa.received] == ["where is my order"]


async def test_help_says_how_to_reach_support(h: TwilioHarness) -> None:
    await h.twilio.message(whatsapp(CUSTOMER, "HELP"))
    [answer] = await h.api.wait_for(f"whatsapp:{CUSTOMER}")
    for words in ("web chat", "SMS", "WhatsApp", "Telegram", "24 hours", '"agent"'):
        assert words in answer["Body"]
    assert h.rasa.received == []
    assert [(m.sender_kind, m.text) for m in await h.all(Message)] == [
        ("customer", "HELP"),
        ("system", answer["Body"]),
    ]


async def test_a_keyword_twilio_answered_itself_is_logged_but_not_answered_again(
    h: TwilioHarness,
) -> None:
    await h.twilio.message(sms(CUSTOMER, "HELP", OptOutType="HELP"))
    # Advanced Opt-Out with the account's own keyword, in French:
    await h.twilio.message(sms(CUSTOMER, "ARRET", OptOutType="STOP"))
    await asyncio.sleep(0.3)
    assert h.api.attempts == [] and h.rasa.received == []
    assert [m.text for m in await h.all(Message)] == ["HELP", "ARRET"]
    assert (await h.one(Contact)).opted_out_at is not None


async def test_media_and_locations_are_kept_and_the_customer_told(h: TwilioHarness) -> None:
    photo = sms(
        CUSTOMER,
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    await h.twilio.message(photo)
    [notice] = await h.api.wait_for(CUSTOMER)
    assert notice["Body"] == ATTACHMENT_NOTICE
    await h.twilio.message(whatsapp(CUSTOMER, "", Latitude="13.0969", Longitude="-59.6145"))
    await h.api.wait_for(f"whatsapp:{CUSTOMER}")
    stored = [m.payload for m in await h.all(Message, sender_kind=SenderKind.CUSTOMER)]
    assert stored == [
        {
            "attachments": [
                {"kind": "image", "url": photo["MediaUrl0"], "content_type": "image/jpeg"}
            ]
        },
        {"attachments": [{"kind": "location", "description": "13.0969,-59.6145"}]},
    ]
    assert h.rasa.received == []  # nothing for the assistant to read


async def test_one_phone_on_sms_and_whatsapp_is_one_contact(h: TwilioHarness) -> None:
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await h.twilio.message(whatsapp(CUSTOMER, "where is my order", profile_name="Keisha"))
    await h.api.wait_for(CUSTOMER)
    await h.api.wait_for(f"whatsapp:{CUSTOMER}")
    [contact] = await h.all(Contact)
    assert contact.phone == CUSTOMER
    conversations = await h.all(Conversation)
    assert {(c.channel, c.address, c.contact_id) for c in conversations} == {
        ("sms", CUSTOMER, contact.id),
        ("whatsapp", f"whatsapp:{CUSTOMER}", contact.id),
    }


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; `cut()` takes the store off the network."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self._target_port
        )
        self._writers |= {writer, upstream_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))


@pytest.mark.postgres
async def test_a_store_that_is_down_gets_503_so_twilio_retries(postgres_url: str) -> None:
    host_part, database = postgres_url.rsplit("/", 1)
    proxy = TcpProxy(target_port=int(host_part.rsplit(":", 1)[1]))
    await proxy.start()
    via_proxy = f"{host_part.rsplit(':', 1)[0]}:{proxy.port}/{database}"
    async with running_twilio_gateway(via_proxy) as h:
        params = sms(CUSTOMER, "where is my order", sid="SMwhiledown")
        await proxy.cut()
        response = await h.twilio.message(params)
        assert response.status_code == 503
        assert h.rasa.received == []
        await proxy.start(proxy.port)  # the store is back; Twilio tries again
        retried = await h.twilio.message(params)
        assert retried.status_code == 200
        await h.api.wait_for(CUSTOMER)
        assert [m.text for m in await h.all(Message, sender_kind=SenderKind.CUSTOMER)] == [
            "where is my order"
        ]


async def test_the_gateway_refuses_a_forged_status_callback(sqlite_url: str) -> None:
    async with running_gateway(make_settings(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN)) as gateway:
        forger = TwilioWebhookSender(gateway.url, auth_token="0" * 32)
        response = await forger.status(new_sid(), "delivered")
        await forger.close()
    assert response.status_code == 403


async def test_a_flooding_number_is_stored_but_not_answered_while_another_is_answered(
    sqlite_url: str, twilio_log: pytest.LogCaptureFixture
) -> None:
    other = "+12465550999"
    async with running_twilio_gateway(sqlite_url, RATE_LIMIT_BURST=2, RATE_LIMIT_PER_MINUTE=1) as h:
        logging.getLogger().addHandler(twilio_log.handler)  # the app reconfigured logging
        floods = [sms(CUSTOMER, f"flood {n}", sid=f"SMflood{n}") for n in range(6)]
        responses = [await h.twilio.message(params) for params in floods]
        # Twilio is always answered, so it does not retry what is stored.
        assert [(r.status_code, r.text) for r in responses] == [(200, TWIML)] * 6
        started = time.perf_counter()
        assert (await h.twilio.message(sms(other, "where is my order"))).status_code == 200
        await h.api.wait_for(other, timeout=5)
        took = time.perf_counter() - started
        await h.api.wait_for(CUSTOMER, 2)  # the burst is answered
        # STOP is always honoured, whatever the rate.
        assert (await h.twilio.message(sms(CUSTOMER, "STOP"))).status_code == 200
        await asyncio.sleep(0.5)  # time for more turns and replies, were any wrongly started
        customer = await h.all(Message, sender_kind=SenderKind.CUSTOMER)
        assert len(h.api.sent_to(CUSTOMER)) == 2
    # Every message is in the customer record; those over the limit are marked and were never
    # routed: the assistant saw only the burst.
    assert [(m.text, _limited(m)) for m in customer] == [
        ("flood 0", False),
        ("flood 1", False),
        *((f"flood {n}", True) for n in range(2, 6)),
        ("where is my order", False),
        ("STOP", False),
    ]
    assert all(m.turn_status == TurnStatus.DONE for m in customer)
    assert sorted(turn["message"] for turn in h.rasa.received) == [
        "flood 0",
        "flood 1",
        "where is my order",
    ]
    assert took < 2.0, f"the other customer waited {took:.2f} s"
    limited = _rate_limited_events(twilio_log)
    assert limited == [f"rate_limited channel=sms message_sid=SMflood{n}" for n in range(2, 6)]


def _limited(message: Message) -> bool:
    return (message.payload or {}).get("rate_limited") is True


def _rate_limited_events(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if r.getMessage().startswith("rate_limited ")]


# A token every hundred minutes: none comes back while a test runs.
NO_REFILL = 0.01


@pytest.mark.parametrize("form", [sms, whatsapp], ids=["sms", "whatsapp"])
async def test_a_message_over_the_limit_is_stored_and_acknowledged_but_never_routed(
    database_url: str, twilio_log: pytest.LogCaptureFixture, form: Callable[..., dict[str, str]]
) -> None:
    address = CUSTOMER if form is sms else f"whatsapp:{CUSTOMER}"
    async with running_twilio_gateway(
        database_url, RATE_LIMIT_BURST=1, RATE_LIMIT_PER_MINUTE=NO_REFILL
    ) as h:
        logging.getLogger().addHandler(twilio_log.handler)  # the app reconfigured logging
        await h.twilio.message(form(CUSTOMER, "where is my order", sid="SMfirst"))
        await h.api.wait_for(address)
        response = await h.twilio.message(form(CUSTOMER, "refund me please", sid="SMover"))
        assert (response.status_code, response.text) == (200, TWIML)
        # Committed, and marked, before Twilio was answered.
        first, over = await h.all(Message, sender_kind=SenderKind.CUSTOMER)
        assert (over.text, over.external_id) == ("refund me please", "SMover")
        assert over.turn_status == TurnStatus.DONE and _limited(over) and not _limited(first)
        await asyncio.sleep(0.5)  # time for a turn and a reply, were one wrongly started
        assert [turn["message"] for turn in h.rasa.received] == ["where is my order"]
        assert len(h.api.attempts) == 1
    channel = "sms" if form is sms else "whatsapp"
    limited = _rate_limited_events(twilio_log)
    assert limited == [f"rate_limited channel={channel} message_sid=SMover"]
    assert "refund me" not in twilio_log.text


async def test_a_redelivered_message_costs_the_sender_no_allowance(
    database_url: str, twilio_log: pytest.LogCaptureFixture
) -> None:
    async with running_twilio_gateway(
        database_url, RATE_LIMIT_BURST=2, RATE_LIMIT_PER_MINUTE=NO_REFILL
    ) as h:
        logging.getLogger().addHandler(twilio_log.handler)  # the app reconfigured logging
        first = sms(CUSTOMER, "where is my order", sid="SMfirst")
        await h.twilio.message(first)
        await h.api.wait_for(CUSTOMER)
        for _ in range(3):  # Twilio delivers it again: acknowledged as before, nothing more
            again = await h.twilio.message(first)
            assert (again.status_code, again.text) == (200, TWIML)
        # Had the redeliveries counted, the second and last token would be gone by now.
        await h.twilio.message(sms(CUSTOMER, "and my refund?", sid="SMsecond"))
        await h.api.wait_for(CUSTOMER, 2)
        await h.twilio.message(sms(CUSTOMER, "hello?", sid="SMthird"))  # this one is over
        await asyncio.sleep(0.5)
        customer = await h.all(Message, sender_kind=SenderKind.CUSTOMER)
        assert len(h.api.attempts) == 2
    assert [(m.text, _limited(m)) for m in customer] == [
        ("where is my order", False),
        ("and my refund?", False),
        ("hello?", True),
    ]
    assert [turn["message"] for turn in h.rasa.received] == ["where is my order", "and my refund?"]
    limited = _rate_limited_events(twilio_log)
    assert limited == ["rate_limited channel=sms message_sid=SMthird"]


async def test_a_message_the_store_could_not_take_costs_the_sender_no_allowance(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_twilio_gateway(
        database_url, RATE_LIMIT_BURST=1, RATE_LIMIT_PER_MINUTE=NO_REFILL
    ) as h:
        failed = refuse_first_message(h.gateway.services.router, monkeypatch)
        params = sms(CUSTOMER, "where is my order", sid="SMretried")
        assert (await h.twilio.message(params)).status_code == 503
        # Twilio retries; had the 503 used the only token, this would be stored unanswered.
        assert (await h.twilio.message(params)).status_code == 200
        await h.api.wait_for(CUSTOMER)
        await h.twilio.message(sms(CUSTOMER, "and my refund?"))  # the limit still holds
        await asyncio.sleep(0.5)
        customer = await h.all(Message, sender_kind=SenderKind.CUSTOMER)
        assert len(h.api.attempts) == 1
    assert failed == ["SMretried"]
    assert [(m.text, _limited(m)) for m in customer] == [
        ("where is my order", False),
        ("and my refund?", True),
    ]
    assert [turn["message"] for turn in h.rasa.received] == ["where is my order"]


async def test_an_oversized_body_is_refused_with_413_and_nothing_stored(
    h: TwilioHarness,
) -> None:
    params = sms(CUSTOMER, "x" * (70 * 1024))
    response = await h.twilio.message(params)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert await h.all(Message) == []
    # A body without Content-Length (chunked) is counted as it arrives.

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b"Body=" + b"y" * 1024 + b"&"

    chunked = await h.twilio._client.post(
        f"{h.gateway.url}/channels/twilio/webhook",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert await h.all(Message) == []


async def test_sms_and_whatsapp_tell_the_assistant_the_phone_the_customer_writes_from(
    h: TwilioHarness,
) -> None:
    """The lookups show an order only to the phone on it (actions/verification.py)."""
    await h.twilio.message(sms(CUSTOMER, "where is my order"))
    await h.api.wait_for(CUSTOMER)
    await h.twilio.message(whatsapp(CUSTOMER, "where is my order"))
    await h.api.wait_for(f"whatsapp:{CUSTOMER}")
    assert [turn["metadata"] for turn in h.rasa.received] == [
        {"channel": "sms", "language": "en", "customer_phone": CUSTOMER},
        {"channel": "whatsapp", "language": "en", "customer_phone": CUSTOMER},
    ]
