"""A stand-in of the Caricom Connects platform, serving its contract (docs/platform-api.yaml).

Serves /v1 from seeded records, checks the bearer token, records every call, and misbehaves on
demand: `slow_down(seconds)` (every answer waits that long), `fail_next(n, status)` (the next n
calls answer that status), `go_down()` / `come_back()` (every call answers 503). A number it was
not given is unknown (404), as on the platform.

It runs in both environments (the action server's Python 3.10 and the gateway's 3.11), so it
uses only what both versions of aiohttp have.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.net import free_port

TOKEN = "platform-stand-in-token"
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
class PlatformStandIn:
    token: str = TOKEN
    orders: dict[str, dict[str, Any]] = field(default_factory=seeded_orders)
    refunds: dict[str, dict[str, Any]] = field(default_factory=seeded_refunds)
    calls: list[str] = field(default_factory=list)  # request paths with their query
    delay: float = 0.0
    down: bool = False
    url: str = ""
    _failures: list[int] = field(default_factory=list)

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
                return web.json_response({"invoices": [self._invoice(order)]})
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
            "pdf_url": f"{self.url}/v1/invoices/INV-{order['number']}.pdf",
        }


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
