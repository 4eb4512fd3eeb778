"""Turn latency and throughput: straight to Rasa vs. through the gateway's web chat."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from bench.stats import Summary
from tests.support.webchat_customer import WebChatCustomer

# Self-service questions only: a handoff would silence the bot for that conversation.
QUESTIONS = [
    "how do i track my order CC-482913",
    "what payment methods do you accept",
    "i want to cancel my order",
    "how long does delivery take to Barbados",
    "how do I reset my password",
    "can i get a copy of my invoice",
    "what is your refund policy",
    "how do i change my shipping address",
]
TURNS_PER_CONVERSATION = 20  # keep trackers short, as real conversations are

Turn = Callable[[str], Awaitable[None]]


class RasaDirect:
    """A client that asks the Rasa server for turns itself (the baseline)."""

    def __init__(self, rasa_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=rasa_url, timeout=30)

    async def session(self) -> Turn:
        sender = f"bench-{uuid.uuid4().hex}"

        async def turn(text: str) -> None:
            response = await self._client.post(
                "/webhooks/gateway/webhook", json={"sender": sender, "message": text}
            )
            response.raise_for_status()
            if not response.json()["messages"]:
                raise RuntimeError(f"no answer to {text!r}")

        return turn

    async def close(self) -> None:
        await self._client.aclose()


class GatewayWebChat:
    """Customers on the gateway's web chat (Socket.IO), one connection per conversation."""

    def __init__(self, gateway_url: str) -> None:
        self._url = gateway_url
        self._open: list[WebChatCustomer] = []

    async def session(self) -> Turn:
        customer = await WebChatCustomer().connect(self._url)
        self._open.append(customer)

        async def turn(text: str) -> None:
            await customer.client.emit(
                "user_uttered", {"message": text, "session_id": customer.session_id}
            )
            await asyncio.wait_for(customer.inbox.get(), 30)

        return turn

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._open), return_exceptions=True)


async def _worker(
    make_session: Callable[[], Awaitable[Turn]], turns: int, latencies: list[float]
) -> None:
    questions = itertools.cycle(QUESTIONS)
    turn = await make_session()
    for i in range(turns):
        if i and i % TURNS_PER_CONVERSATION == 0:
            turn = await make_session()
        started = time.perf_counter()
        await turn(next(questions))
        latencies.append((time.perf_counter() - started) * 1000)


async def measure(
    label: str, make_session: Callable[[], Awaitable[Turn]], *, concurrency: int, turns: int
) -> Summary:
    latencies: list[float] = []
    per_worker = max(1, turns // concurrency)
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(make_session, per_worker, latencies) for _ in range(concurrency))
    )
    return Summary(label, latencies, time.perf_counter() - started)


def merge(label: str, parts: list[Summary]) -> Summary:
    return Summary(
        label,
        [x for p in parts for x in p.latencies_ms],
        sum(p.wall_seconds for p in parts),
    )


async def compare(rasa_url: str, gateway_url: str, *, rounds: int, turns: int) -> list[str]:
    """Alternate rounds of the two paths at concurrency 1 and 16; return report lines."""
    direct, webchat = RasaDirect(rasa_url), GatewayWebChat(gateway_url)
    lines: list[str] = []
    try:
        for make in (direct.session, webchat.session):  # warm both paths up
            await measure("warm-up", make, concurrency=4, turns=40)
        for concurrency in (1, 16):
            results: dict[str, list[Summary]] = {"rasa": [], "gateway": []}
            for _ in range(rounds):
                results["rasa"].append(
                    await measure("rasa", direct.session, concurrency=concurrency, turns=turns)
                )
                results["gateway"].append(
                    await measure("gateway", webchat.session, concurrency=concurrency, turns=turns)
                )
            rasa = merge(f"(a) Rasa server, c={concurrency}", results["rasa"])
            gateway = merge(f"(b) gateway web chat, c={concurrency}", results["gateway"])
            overhead = (gateway.p50 - rasa.p50) / rasa.p50 * 100
            lines += [
                rasa.row(),
                gateway.row(),
                f"  ratio gateway/Rasa: p50 x{gateway.p50 / rasa.p50:.2f} "
                f"(overhead {overhead:+.0f} %), "
                f"throughput x{gateway.per_second / rasa.per_second:.2f}",
                "",
            ]
    finally:
        await direct.close()
        await webchat.close()
    return lines
