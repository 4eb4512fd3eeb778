"""Property-based fuzzing of what customers' vendors and browsers send: the Twilio and Telegram
webhooks (signed and unsigned) and Socket.IO `user_uttered`, against a live loopback gateway.

Whatever arrives: never a 5xx, a forged signature or secret is always refused, and refused
input stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ThreadedGateway
from tests.support.telegram_standin import WEBHOOK_SECRET
from tests.support.twilio_standin import AUTH_TOKEN, TwilioWebhookSender

TWILIO_WEBHOOK = "/channels/twilio/webhook"
TWILIO_STATUS = "/channels/twilio/status"
TELEGRAM_WEBHOOK = "/channels/telegram/webhook"

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a client can put in a form or a header (no lone surrogates: not encodable at all).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
form = st.dictionaries(text, text, max_size=8)
twilio_fields = st.sampled_from(
    ["MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
     "MediaContentType0", "Latitude", "Longitude", "OptOutType", "MessageStatus", "ErrorCode",
     "ProfileName", "WaId", "ButtonPayload", "ButtonText"]
)  # fmt: skip
twilio_like_form = st.dictionaries(
    twilio_fields, st.one_of(text, st.integers().map(str)), max_size=10
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@pytest.fixture
def http(fuzz_gateway: ThreadedGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_gateway.url, timeout=30) as client:
        yield client


def _sign(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return TwilioWebhookSender("http://unused", auth_token=token).signature(path, params)


def _telegram_update(data: Any) -> dict[str, Any]:
    return {"update_id": 1, "message": data}


# Twilio ------------------------------------------------------------------------------------


@FUZZ
@given(
    params=st.one_of(form, twilio_like_form),
    path=st.sampled_from([TWILIO_WEBHOOK, TWILIO_STATUS]),
    forgery=st.one_of(st.none(), header_text, st.just("wrong token")),
)
def test_twilio_refuses_every_unsigned_or_forged_form_and_stores_nothing(
    fuzz_gateway: ThreadedGateway,
    http: httpx.Client,
    params: dict[str, str],
    path: str,
    forgery: str | None,
) -> None:
    before = fuzz_gateway.message_count()
    headers: dict[str, str] = {}
    if forgery == "wrong token":
        headers["X-Twilio-Signature"] = _sign(path, params, token="f" * 32)
    elif forgery is not None:
        if forgery == _sign(path, params):
            return  # a correct signature guessed at random (it does not happen)
        headers["X-Twilio-Signature"] = forgery
    response = http.post(path, data=params, headers=headers)
    assert response.status_code == 403, response.text
    assert fuzz_gateway.message_count() == before


@FUZZ
@given(
    params=st.one_of(form, twilio_like_form),
    path=st.sampled_from([TWILIO_WEBHOOK, TWILIO_STATUS]),
)
def test_twilio_never_answers_5xx_to_a_signed_form(
    fuzz_gateway: ThreadedGateway, http: httpx.Client, params: dict[str, str], path: str
) -> None:
    before = fuzz_gateway.message_count()
    response = http.post(path, data=params, headers={"X-Twilio-Signature": _sign(path, params)})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert fuzz_gateway.message_count() == before


@FUZZ
@given(body=st.binary(max_size=300), signature=st.one_of(st.none(), header_text))
def test_twilio_never_answers_5xx_to_raw_bytes(
    fuzz_gateway: ThreadedGateway, http: httpx.Client, body: bytes, signature: str | None
) -> None:
    before = fuzz_gateway.message_count()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = http.post(TWILIO_WEBHOOK, content=body, headers=headers)
    assert response.status_code in {400, 403}, response.text
    assert fuzz_gateway.message_count() == before


# Telegram ----------------------------------------------------------------------------------


@FUZZ
@given(
    data=st.one_of(json_values, json_values.map(_telegram_update)),
    secret=st.one_of(st.none(), header_text.filter(lambda s: s != WEBHOOK_SECRET)),
)
def test_telegram_refuses_every_missing_or_wrong_secret_and_stores_nothing(
    fuzz_gateway: ThreadedGateway, http: httpx.Client, data: Any, secret: str | None
) -> None:
    before = fuzz_gateway.message_count()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = http.post(TELEGRAM_WEBHOOK, content=json.dumps(data), headers=headers)
    assert response.status_code == 403, response.text
    assert fuzz_gateway.message_count() == before


message_like = st.fixed_dictionaries(
    {
        "message_id": st.one_of(st.integers(), text),
        "date": st.one_of(st.integers(min_value=0, max_value=2**31), text),
        "chat": st.one_of(
            st.fixed_dictionaries(
                {
                    "id": st.one_of(st.integers(), text),
                    "type": st.sampled_from(["private", "group", "supergroup", "channel", "other"]),
                }
            ),
            json_values,
        ),
    },
    optional={
        "text": st.one_of(text, json_values),
        "caption": text,
        "from": json_values,
        "photo": json_values,
        "entities": json_values,
    },
)
update_like = st.fixed_dictionaries(
    {"update_id": st.one_of(st.integers(), json_values)},
    optional={
        "message": st.one_of(message_like, json_values),
        "edited_message": message_like,
        "callback_query": json_values,
        "poll": json_values,
    },
)


@FUZZ
@given(data=st.one_of(json_values, update_like), raw=st.one_of(st.none(), st.binary(max_size=80)))
def test_telegram_never_answers_5xx_to_what_carries_the_secret(
    fuzz_gateway: ThreadedGateway, http: httpx.Client, data: Any, raw: bytes | None
) -> None:
    before = fuzz_gateway.message_count()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
    }
    body = raw if raw is not None else json.dumps(data).encode()
    response = http.post(TELEGRAM_WEBHOOK, content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert fuzz_gateway.message_count() == before


# Web chat ----------------------------------------------------------------------------------

utterance = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"message": st.one_of(text, json_values)},
        optional={"session_id": st.one_of(text, json_values), "metadata": json_values},
    ),
)


@pytest.fixture
def webchat(fuzz_gateway: ThreadedGateway) -> Iterator[socketio.AsyncClient]:
    """A Socket.IO client living on the gateway's loop (the synchronous one needs more deps)."""

    async def connect() -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(fuzz_gateway.url, transports=["websocket"])
        return client

    client = fuzz_gateway.run(connect())
    try:
        yield client
    finally:
        fuzz_gateway.run(client.disconnect())


@FUZZ
@given(payload=utterance)
def test_webchat_handles_any_user_uttered_payload(
    fuzz_gateway: ThreadedGateway, webchat: socketio.AsyncClient, payload: Any
) -> None:
    before = fuzz_gateway.message_count()
    # The handler acknowledges only once it returned: a crash shows as no acknowledgement.
    fuzz_gateway.run(webchat.call("user_uttered", payload, timeout=10))
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, str) or not message.strip():
        assert fuzz_gateway.message_count() == before
