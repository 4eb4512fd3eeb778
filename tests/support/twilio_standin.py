"""A stand-in of Twilio: its Messages API (what the gateway's REST client calls) and its webhook
requests to the gateway, signed with the twilio library's `RequestValidator` as Twilio signs them.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
from aiohttp import web
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.store.models import utcnow
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import free_port
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin

T = TypeVar("T")

ACCOUNT_SID = "AC" + "c0ffee00" * 4
AUTH_TOKEN = "5f1e9d7c3b2a40e8a1c6d9b7e3f2a1c0"
SMS_NUMBER = "+12465550100"
WHATSAPP_NUMBER = "whatsapp:+12465550101"
# The gateway's address as Twilio sees it: behind a reverse proxy, not the loopback port.
PUBLIC_BASE_URL = "https://support.caricom.example"


def new_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def twilio_settings(api_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings overrides for a gateway talking to the stand-in."""
    values: dict[str, Any] = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": api_url,
        "TWILIO_SMS_FROM": SMS_NUMBER,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_NUMBER,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    values.update(overrides)
    return values


@dataclass
class Fault:
    """One failed answer: an HTTP status with Twilio's error body, maybe a Retry-After."""

    status: int
    code: int | None = None
    message: str = "stand-in failure"
    retry_after: str | None = None


@dataclass
class TwilioStandIn:
    """Twilio's Messages API: records every create request, answers like Twilio, fails on demand."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    delay: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    attempts: list[dict[str, str]] = field(default_factory=list)  # every create request
    sent: list[dict[str, str]] = field(default_factory=list)  # accepted, with their "Sid"
    # An outage: every create answers 503 while set.
    down: bool = False
    # Accept the next N creates, then drop the connection before answering (the answer lost).
    drop_answers: int = 0
    url: str = ""
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        code: int | None = None,
        message: str = "stand-in failure",
        retry_after: str | None = None,
    ) -> None:
        self.faults.extend(Fault(status, code, message, retry_after) for _ in range(times))

    def sent_to(self, address: str) -> list[dict[str, str]]:
        return [m for m in self.sent if m["To"] == address]

    async def wait_for(
        self, address: str, count: int = 1, *, timeout: float = 10.0
    ) -> list[dict[str, str]]:
        """The first `count` messages accepted for `address`, waiting for them to arrive."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent_to(address)) >= count)
        return self.sent_to(address)[:count]

    async def _create(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_sid or not _authorised(
            request, self.account_sid, self.auth_token
        ):
            return _error(401, 20003, "Authenticate")
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.attempts.append(form)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return _error(503, 20503, "Service Unavailable")
        if self.faults:
            fault = self.faults.pop(0)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _error(fault.status, fault.code, fault.message, headers)
        sid = new_sid()
        message = {**form, "Sid": sid, "DateCreated": format_datetime(utcnow(), usegmt=True)}
        async with self._arrived:
            self.sent.append(message)
            self._arrived.notify_all()
        if self.drop_answers > 0:
            self.drop_answers -= 1
            assert request.transport is not None
            request.transport.close()  # Twilio has it; the sender never hears so
            return web.Response(status=201)
        return web.json_response(self._resource(message), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        """GET Messages.json: what was sent, newest first, filtered by To and From."""
        if request.match_info["account"] != self.account_sid or not _authorised(
            request, self.account_sid, self.auth_token
        ):
            return _error(401, 20003, "Authenticate")
        if self.down:
            return _error(503, 20503, "Service Unavailable")
        to, from_ = request.query.get("To"), request.query.get("From")
        found = [
            self._resource(m)
            for m in reversed(self.sent)
            if (to is None or m.get("To") == to) and (from_ is None or m.get("From") == from_)
        ]
        page_size = int(request.query.get("PageSize", "50"))
        return web.json_response(
            {
                "messages": found[:page_size],
                "page": 0,
                "page_size": page_size,
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": request.path_qs,
            }
        )

    def _resource(self, message: dict[str, str]) -> dict[str, Any]:
        """A message as Twilio's API returns it."""
        sid = message["Sid"]
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": message.get("To"),
            "from": message.get("From"),
            "body": message.get("Body", ""),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "api_version": "2010-04-01",
            "date_created": message["DateCreated"],
            "date_updated": message["DateCreated"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }


def _authorised(request: web.Request, username: str, password: str) -> bool:
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    return request.headers.get("Authorization") == expected


def _error(
    status: int, code: int | None, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "code": code or status,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code or status}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


@asynccontextmanager
async def running_twilio_standin(
    standin: TwilioStandIn | None = None, *, port: int | None = None
) -> AsyncIterator[TwilioStandIn]:
    standin = standin or TwilioStandIn()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", standin._create)
    app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", standin._list)
    runner = web.AppRunner(app)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        await runner.cleanup()


class TwilioWebhookSender:
    """Twilio's side of the webhooks: posts forms to the gateway, signed for the public URL."""

    def __init__(
        self,
        gateway_url: str,
        *,
        public_base_url: str = PUBLIC_BASE_URL,
        auth_token: str = AUTH_TOKEN,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._gateway_url = gateway_url
        self._public_base_url = public_base_url
        self._validator = RequestValidator(auth_token)
        self._client = client or httpx.AsyncClient(timeout=30)

    def signature(self, path: str, params: dict[str, str]) -> str:
        return str(self._validator.compute_signature(self._public_base_url + path, params))

    async def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signature: str | None = "",
        base_url: str | None = None,
    ) -> httpx.Response:
        """POST `params` to `path`; `signature` None sends none, "" signs them correctly.

        `base_url`: another gateway instance behind the same public address.
        """
        headers = {}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature or self.signature(path, params)
        url = (base_url or self._gateway_url) + path
        return await self._client.post(url, data=params, headers=headers)

    async def message(self, params: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.post("/channels/twilio/webhook", params, **kwargs)

    async def status(
        self, sid: str, status: str, *, error_code: str | None = None
    ) -> httpx.Response:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return await self.post("/channels/twilio/status", params)

    async def close(self) -> None:
        await self._client.aclose()


def sms(sender: str, body: str, *, sid: str | None = None, **extra: str) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS."""
    sid = sid or new_sid()
    return {
        "ToCountry": "BB",
        "SmsMessageSid": sid,
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": SMS_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def whatsapp(
    phone: str, body: str, *, sid: str | None = None, profile_name: str = "Keisha", **extra: str
) -> dict[str, str]:
    """The form Twilio posts for an inbound WhatsApp message."""
    sid = sid or new_sid()
    return {
        "SmsMessageSid": sid,
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "To": WHATSAPP_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": profile_name,
        "WaId": phone.lstrip("+"),
        "MessageType": "text",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@dataclass
class TwilioHarness:
    """A gateway wired to stand-ins of Rasa and Twilio, with Twilio's webhook side at hand."""

    gateway: LiveGateway
    rasa: RasaStandIn
    api: TwilioStandIn
    twilio: TwilioWebhookSender

    async def all(self, model: type[T], **where: Any) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            rows = await session.scalars(select(model).filter_by(**where).order_by(model.id))  # type: ignore[attr-defined]
            return list(rows)

    async def one(self, model: type[T], **where: Any) -> T:
        [row] = await self.all(model, **where)
        return row


@asynccontextmanager
async def running_twilio_gateway(
    database_url: str,
    *,
    rasa: RasaStandIn | None = None,
    api: TwilioStandIn | None = None,
    **settings: Any,
) -> AsyncIterator[TwilioHarness]:
    async with (
        running_rasa_standin(rasa) as rasa,
        running_twilio_standin(api) as api,
        running_gateway(
            make_settings(database_url, rasa.url, **twilio_settings(api.url, **settings))
        ) as gateway,
    ):
        sender = TwilioWebhookSender(gateway.url)
        try:
            yield TwilioHarness(gateway, rasa, api, sender)
        finally:
            await sender.close()
