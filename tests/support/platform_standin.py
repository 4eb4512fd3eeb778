"""A stand-in of the Caricom Connects platform, serving its contract (docs/platform-api.yaml).

Serves /v1 from seeded records, checks the bearer token, records every call, and misbehaves on
demand: `slow_down(seconds)` (every answer waits that long), `fail_next(n, status)` (the next n
calls answer that status), `go_down()` / `come_back()` (every call answers 503). A number it was
not given is unknown (404), as on the platform.

One-time codes (contract 1.1): a code "sent" to an order's contact on file is kept in
`codes_sent` (what the customer would receive) rather than sent; codes live `code_lifetime`
seconds, allow `MAX_TRIES` tries and `CODES_PER_HOUR` codes per order, and are compared in
constant time, as the contract asks of the platform.

It runs in both environments (the action server's Python 3.10 and the gateway's 3.11), so it
uses only what both versions of aiohttp have.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.net import free_port

TOKEN = "platform-stand-in-token"
CODE_LIFETIME = 600.0
MAX_TRIES = 5
CODES_PER_HOUR = 5
# The seeded customer: writes from this phone, which is on order 55123.
CUSTOMER_PHONE = "+18685550123"
OTHER_PHONE = "+12465550999"


def seeded_orders() -> dict[str, dict[str, Any]]:
    return {
        "55123": {
            "number": "55123",
            "status": "shipped",
            "phone": CUSTOMER_PHONE,
            "email": "keisha@example.com",
            "placed_at": "2026-11-20T14:05:00Z",
            "items": [{"name": "Sandals", "quantity": 2}],
            "carrier": "Caribbean Courier",
            "tracking_number": "CCR123456789",
            "expected_delivery": "2026-12-03",
        },
        "55001": {
            "number": "55001",
            "status": "delivered",
            "phone": CUSTOMER_PHONE,
            "email": "keisha@example.com",
            "placed_at": "2026-10-02T09:00:00Z",
            "items": [{"name": "Sun hat", "quantity": 1}],
            "carrier": "Caribbean Courier",
            "tracking_number": "CCR000000001",
            "expected_delivery": "2026-10-08",
        },
        "77777": {
            "number": "77777",
            "status": "processing",
            "phone": OTHER_PHONE,
            "email": "someone.else@example.com",
            "placed_at": "2026-11-25T10:00:00Z",
            "items": [{"name": "Blender", "quantity": 1}],
            "carrier": None,
            "tracking_number": None,
            "expected_delivery": "2026-12-10",
        },
    }


def seeded_refunds() -> dict[str, dict[str, Any]]:
    return {
        "55001": {
            "order_number": "55001",
            "status": "approved",
            "amount": "XCD 45.00",
            "expected_date": "2026-12-05",
        }
    }


@dataclass
class SentCode:
    order_number: str
    to: str
    code: str
    verification_id: str
    sent_at: float
    expires: float
    tries: int = 0
    used: bool = False


@dataclass
class PlatformStandIn:
    token: str = TOKEN
    orders: dict[str, dict[str, Any]] = field(default_factory=seeded_orders)
    refunds: dict[str, dict[str, Any]] = field(default_factory=seeded_refunds)
    calls: list[str] = field(default_factory=list)  # request paths with their query
    delay: float = 0.0
    down: bool = False
    url: str = ""
    code_lifetime: float = CODE_LIFETIME
    invoiceless: set[str] = field(default_factory=set)  # orders with no invoice issued yet
    codes_sent: list[SentCode] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)

    def last_code(self) -> str:
        """The code the customer would have received last."""
        return self.codes_sent[-1].code

    def slow_down(self, seconds: float) -> None:
        self.delay = seconds

    def fail_next(self, count: int, status: int = 500) -> None:
        self._failures.extend([status] * count)

    def go_down(self) -> None:
        self.down = True

    def come_back(self) -> None:
        self.down = False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(request.path_qs)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _problem(401, "a valid bearer token is required")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return _problem(503, "the platform is down")
        if self._failures:
            return _problem(self._failures.pop(0), "failing on demand")
        return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")[1:]  # after "v1"
        if request.method == "POST":
            return await self._verification(request, parts)
        if parts == ["orders"]:
            return self._recent_orders(request)
        if parts == ["accounts", "state"]:
            return self._account_state(request)
        if len(parts) >= 2 and parts[0] == "orders":
            order = self.orders.get(parts[1])
            if order is None:
                return _problem(404, "no such order")
            if len(parts) == 2:
                return web.json_response({k: v for k, v in order.items() if k != "email"})
            if parts[2:] == ["refund"]:
                refund = self.refunds.get(parts[1])
                if refund is None:
                    return _problem(404, "no refund on this order")
                return web.json_response(refund)
            if parts[2:] == ["invoices"]:
                issued = [] if parts[1] in self.invoiceless else [self._invoice(order)]
                return web.json_response({"invoices": issued})
        return _problem(404, "no such resource")

    def _recent_orders(self, request: web.Request) -> web.Response:
        phone, email = request.query.get("phone"), request.query.get("email")
        if (phone is None) == (email is None):
            return _problem(400, "give exactly one of phone or email")
        found = [
            o
            for o in self.orders.values()
            if (phone is not None and o["phone"] == phone)
            or (email is not None and o["email"] == email)
        ]
        found.sort(key=lambda o: o["placed_at"], reverse=True)
        return web.json_response(
            {
                "orders": [
                    {"number": o["number"], "status": o["status"], "placed_at": o["placed_at"]}
                    for o in found[:5]
                ]
            }
        )

    def _account_state(self, request: web.Request) -> web.Response:
        phone, email = request.query.get("phone"), request.query.get("email")
        if (phone is None) == (email is None):
            return _problem(400, "give exactly one of phone or email")
        mine = [o for o in self.orders.values() if phone in (o["phone"],) or email == o["email"]]
        if not mine:
            return web.json_response({"exists": False, "locked": False, "masked_email": None})
        address = str(mine[0]["email"])
        name, _, domain = address.partition("@")
        return web.json_response(
            {"exists": True, "locked": False, "masked_email": f"{name[0]}***@{domain}"}
        )

    def _invoice(self, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "number": f"INV-{order['number']}",
            "order_number": order["number"],
            "issued_at": order["placed_at"],
            "total": "XCD 120.00",
            "status": "paid" if order["status"] == "delivered" else "open",
            "pdf_url": f"{self.url}/v1/invoices/INV-{order['number']}.pdf",
        }

    async def _verification(self, request: web.Request, parts: list[str]) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "a JSON body is required")
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "verifications":
            return self._send_code(parts[1], str(body.get("contact", "")))
        if len(parts) == 3 and parts[0] == "verifications" and parts[2] == "checks":
            return self._check_code(parts[1], str(body.get("code", "")))
        return _problem(404, "no such resource")

    def _send_code(self, order_number: str, contact: str) -> web.Response:
        order = self.orders.get(order_number)
        to = _on_file(order, contact) if order else None
        if order is None or to is None:
            return _problem(404, "no such order with this contact")
        now = time.time()
        recent = [
            c for c in self.codes_sent if c.order_number == order_number and c.sent_at > now - 3600
        ]
        if len(recent) >= CODES_PER_HOUR:
            return _problem(429, "too many codes for this order")
        sent = SentCode(
            order_number=order_number,
            to=to,
            code=f"{secrets.randbelow(10**6):06d}",
            verification_id=secrets.token_urlsafe(12),
            sent_at=now,
            expires=now + self.code_lifetime,
        )
        self.codes_sent.append(sent)
        expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent.expires))
        return web.json_response(
            {
                "verification_id": sent.verification_id,
                "sent_to": _masked(to),
                "expires_at": expires_at,
            },
            status=201,
        )

    def _check_code(self, verification_id: str, code: str) -> web.Response:
        sent = next((c for c in self.codes_sent if c.verification_id == verification_id), None)
        if sent is None:
            return _problem(404, "no such verification")
        if sent.used or sent.expires <= time.time():
            return web.json_response({"status": "expired", "order_number": sent.order_number})
        if sent.tries >= MAX_TRIES:
            return web.json_response(
                {"status": "too_many_attempts", "order_number": sent.order_number}
            )
        sent.tries += 1
        if hmac.compare_digest(sent.code.encode(), code.strip().encode()):
            sent.used = True
            return web.json_response({"status": "approved", "order_number": sent.order_number})
        status = "too_many_attempts" if sent.tries >= MAX_TRIES else "wrong_code"
        return web.json_response({"status": status, "order_number": sent.order_number})


def _on_file(order: dict[str, Any], contact: str) -> str | None:
    """The order's email or phone that `contact` names, or None."""
    if "@" in contact:
        return (
            str(order["email"]) if contact.strip().lower() == str(order["email"]).lower() else None
        )
    digits = re.sub(r"\D", "", contact)
    return (
        str(order["phone"]) if digits and digits == re.sub(r"\D", "", str(order["phone"])) else None
    )


def _masked(contact: str) -> str:
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[0]}***@{domain}"
    return contact[:2] + "*" * (len(contact) - 6) + contact[-4:]


def _problem(status: int, title: str) -> web.Response:
    # RFC 9457 problem details, as the contract says.
    return web.json_response(
        {"type": "about:blank", "title": title, "status": status},
        status=status,
        content_type="application/problem+json",
    )


@asynccontextmanager
async def running_platform_standin(
    standin: PlatformStandIn | None = None, *, port: int | None = None
) -> AsyncIterator[PlatformStandIn]:
    standin = standin or PlatformStandIn()
    app = web.Application()
    app.router.add_route("GET", "/v1/{tail:.*}", standin._handle)
    app.router.add_route("POST", "/v1/{tail:.*}", standin._handle)
    # No access log: request lines carry phone numbers and email addresses.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        await runner.cleanup()
