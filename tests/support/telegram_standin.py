"""A stand-in of the Telegram Bot API, for python-telegram-bot to talk to, and update builders.

Serves `/bot<token>/<method>` with Telegram-shaped answers (`{"ok": true, "result": …}`), records
every call, and fails on demand: `fail_next` (HTTP 429 with `parameters.retry_after`, 500, …),
`block` (403 "Forbidden: bot was blocked by the user"). `getUpdates` serves queued updates with
Telegram's offset and long-poll semantics, and refuses (409) while a webhook is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiohttp import web
from sqlalchemy import select

from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import free_port

T = TypeVar("T")

BOT_USER: dict[str, Any] = {
    "id": 7_700_000_001,
    "is_bot": True,
    "first_name": "Caricom Connects",
    "username": "CaricomConnectsBot",
}
# Parameters python-telegram-bot sends JSON-encoded (strings it sends as they are).
_JSON_PARAMS = {"reply_markup", "allowed_updates", "entities", "reply_parameters"}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float  # time.monotonic() when it arrived


@dataclass(frozen=True)
class Fault:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class TelegramStandIn:
    token: str = "123456789:AAF-stand-in-token-for-tests"
    calls: list[Call] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # what sendMessage delivered
    documents: list[dict[str, Any]] = field(default_factory=list)  # what sendDocument delivered
    blocked_chats: set[str] = field(default_factory=set)
    webhook: dict[str, Any] | None = None
    # An outage: every call answers 502 while set.
    down: bool = False
    url: str = ""
    _faults: dict[str, deque[Fault]] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    # What tests set up ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with an error."""
        fault = Fault(status=status, description=description, retry_after=retry_after)
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def block(self, chat_id: int | str) -> None:
        """The user of `chat_id` blocked the bot: sendMessage to it is refused with 403."""
        self.blocked_chats.add(str(chat_id))

    def queue_update(self, update: dict[str, Any]) -> None:
        """An update for getUpdates to serve."""
        self._updates.append(update)
        self._update_arrived.set()

    # What tests check ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages delivered to `chat_id`, as Telegram returned them (Message objects)."""
        return [m for m in self.messages if str(m["chat"]["id"]) == str(chat_id)]

    # The API ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        at = time.monotonic()
        params = await _params(request)
        response = await self._answer(method, params)
        self.calls.append(Call(method=method, params=params, status=response.status, at=at))
        return response

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        if self.down:
            return _error(502, "Bad Gateway")
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            return _error(fault.status, fault.description, retry_after=fault.retry_after)
        match method:
            case "getMe":
                return _ok(BOT_USER)
            case "sendMessage":
                chat_id = str(params["chat_id"])
                if chat_id in self.blocked_chats:
                    return _error(403, "Forbidden: bot was blocked by the user")
                return _ok(self._message(chat_id, params))
            case "sendDocument":
                chat_id = str(params["chat_id"])
                if chat_id in self.blocked_chats:
                    return _error(403, "Forbidden: bot was blocked by the user")
                return _ok(self._document(chat_id, params))
            case "answerCallbackQuery":
                return _ok(True)
            case "setWebhook":
                self.webhook = params
                return _ok(True)
            case "deleteWebhook":
                self.webhook = None
                return _ok(True)
            case "getUpdates":
                return await self._get_updates(params)
        return _error(404, "Not Found")

    def _message(self, chat_id: str, params: dict[str, Any]) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": int(chat_id), "type": "private", "first_name": "Customer"}
        if int(chat_id) < 0:
            chat = {"id": int(chat_id), "type": "group", "title": "Customers' group"}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": params["text"],
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.messages.append(message)
        return message

    def _document(self, chat_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """A sendDocument: the uploaded file (multipart) kept as `document_bytes`."""
        upload = params["document"]
        data = upload.file.read() if hasattr(upload, "file") else None
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private", "first_name": "Customer"},
            "from": BOT_USER,
            "caption": params.get("caption", ""),
            "document": {
                "file_id": f"doc-{len(self.documents)}",
                "file_unique_id": f"udoc-{len(self.documents)}",
                "file_name": getattr(upload, "filename", None),
            },
        }
        self.documents.append({**message, "document_bytes": data})
        return message

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        # An offset confirms every update before it: Telegram forgets them.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._update_arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._update_arrived.wait(), timeout=float(params.get("timeout") or 0)
                )
        return _ok(list(self._updates))


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post() if request.can_read_body else {}
    params: dict[str, Any] = {**request.query, **{k: v for k, v in form.items()}}
    for name in _JSON_PARAMS & params.keys():
        params[name] = json.loads(params[name])
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, *, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


@asynccontextmanager
async def running_telegram_standin(
    standin: TelegramStandIn | None = None,
) -> AsyncIterator[TelegramStandIn]:
    standin = standin or TelegramStandIn()
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", standin._handle)
    # No access log: its request lines carry the token, as Telegram's own would.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        standin._update_arrived.set()  # release a long poll in progress
        await runner.cleanup()


# Updates as Telegram sends them ------------------------------------------------------------

CUSTOMER: dict[str, Any] = {
    "id": 5_550_001,
    "is_bot": False,
    "first_name": "Keisha",
    "last_name": "Baptiste",
    "username": "keishab",
}
GROUP_CHAT: dict[str, Any] = {"id": -1_001_234, "type": "group", "title": "Customers' group"}


class Updates:
    """Builds Telegram updates with increasing update_ids and message_ids."""

    def __init__(self, start: int = 100_000) -> None:
        self._ids = itertools.count(start)
        self._message_ids = itertools.count(1)

    def message(
        self,
        text: str | None = None,
        *,
        chat: dict[str, Any] | None = None,
        edited: bool = False,
        **content: Any,
    ) -> dict[str, Any]:
        """An update carrying a message (or an edit): text, or `content` (photo=…, caption=…)."""
        chat = chat or {"id": CUSTOMER["id"], "type": "private", "first_name": "Keisha"}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": CUSTOMER,
            **content,
        }
        if text is not None:
            message["text"] = text
        if edited:
            message["edit_date"] = int(time.time())
        return {"update_id": next(self._ids), "edited_message" if edited else "message": message}

    def button_press(self, sent: dict[str, Any], data: str) -> dict[str, Any]:
        """The customer pressed the button with callback `data` on `sent` (a sent Message)."""
        return {
            "update_id": next(self._ids),
            "callback_query": {
                "id": f"cbq-{next(self._message_ids)}",
                "from": CUSTOMER,
                "chat_instance": "ci-1",
                "message": sent,
                "data": data,
            },
        }

    def other(self, kind: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._ids), kind: value}


# The gateway wired to the stand-in -------------------------------------------------------

WEBHOOK_SECRET = "webhook-secret-for-tests"


@dataclass
class TelegramHarness:
    """A served gateway whose Telegram channel talks to `telegram`; posts updates to it."""

    gateway: LiveGateway
    telegram: TelegramStandIn
    http: httpx.AsyncClient
    updates: Updates = field(default_factory=Updates)

    async def post(
        self, update: Any, *, secret: str | None = WEBHOOK_SECRET, body: bytes | None = None
    ) -> httpx.Response:
        """Deliver `update` to the webhook as Telegram does (`body` for raw bytes instead)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        content = body if body is not None else json.dumps(update).encode()
        return await self.http.post(
            f"{self.gateway.url}/channels/telegram/webhook", content=content, headers=headers
        )

    async def rows(self, model: type[T], **where: Any) -> list[T]:
        async with self.gateway.services.session_factory() as session:
            found = await session.scalars(
                select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
            )
            return list(found)


@asynccontextmanager
async def running_telegram_gateway(
    database_url: str, rasa_url: str, **overrides: Any
) -> AsyncIterator[TelegramHarness]:
    """The stand-in, and the gateway configured for it (overrides go to its settings)."""
    async with running_telegram_standin() as telegram:
        values: dict[str, Any] = {
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_SECRET_TOKEN": WEBHOOK_SECRET,
            "TELEGRAM_API_BASE_URL": telegram.url,
            **overrides,
        }
        settings = make_settings(database_url, rasa_url, **values)
        async with (
            running_gateway(settings) as gateway,
            httpx.AsyncClient(timeout=10) as http,
        ):
            yield TelegramHarness(gateway=gateway, telegram=telegram, http=http)
