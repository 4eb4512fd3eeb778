"""Turn latency and throughput: straight to Rasa vs. through the gateway's web chat."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from bench.proc_stats import tree_cpu_seconds
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
CONCURRENCIES = (1, 16)

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


@dataclass
class CpuCounter:
    """CPU seconds used by named processes over the periods measured, and the turns taken."""

    pids: Mapping[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    turns: int = 0

    async def over(self, period: Awaitable[Summary]) -> Summary:
        before = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        summary = await period
        for name, pid in self.pids.items():
            used = tree_cpu_seconds(pid) - before[name]
            self.seconds[name] = self.seconds.get(name, 0.0) + used
        self.turns += len(summary.latencies_ms)
        return summary

    def ms_per_turn(self, name: str) -> float:
        return self.seconds.get(name, 0.0) * 1000 / max(1, self.turns)


@dataclass
class Comparison:
    """Both paths at one concurrency, over every round, with CPU per turn."""

    concurrency: int
    rasa: Summary
    gateway: Summary
    rasa_cpu: CpuCounter  # rounds straight to Rasa
    gateway_cpu: CpuCounter  # rounds through the gateway (the gateway and Rasa both)

    @property
    def p50_ratio(self) -> float:
        return self.gateway.p50 / self.rasa.p50

    @property
    def throughput_ratio(self) -> float:
        return self.gateway.per_second / self.rasa.per_second

    def lines(self) -> list[str]:
        return [
            self.rasa.row(),
            self.gateway.row(),
            f"  ratio gateway/Rasa: p50 x{self.p50_ratio:.2f} "
            f"(overhead {(self.p50_ratio - 1) * 100:+.0f} %), "
            f"throughput x{self.throughput_ratio:.2f}",
            f"  CPU per turn: gateway {self.gateway_cpu.ms_per_turn('gateway'):.1f} ms, "
            f"Rasa {self.gateway_cpu.ms_per_turn('rasa'):.1f} ms through the gateway; "
            f"Rasa {self.rasa_cpu.ms_per_turn('rasa'):.1f} ms straight",
            "",
        ]


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


async def compare(
    rasa_url: str, gateway_url: str, pids: Mapping[str, int], *, rounds: int, turns: int
) -> list[Comparison]:
    """Alternate rounds of the two paths at concurrency 1 and 16.

    `pids`: the "gateway" and "rasa" processes, whose CPU is counted over the rounds.
    """
    direct, webchat = RasaDirect(rasa_url), GatewayWebChat(gateway_url)
    comparisons: list[Comparison] = []
    try:
        for make in (direct.session, webchat.session):  # warm both paths up
            await measure("warm-up", make, concurrency=4, turns=40)
        for concurrency in CONCURRENCIES:
            results: dict[str, list[Summary]] = {"rasa": [], "gateway": []}
            rasa_cpu, gateway_cpu = CpuCounter(pids), CpuCounter(pids)
            for number in range(1, rounds + 1):
                print(f"    c={concurrency}, round {number} of {rounds}…", flush=True)
                results["rasa"].append(
                    await rasa_cpu.over(
                        measure("rasa", direct.session, concurrency=concurrency, turns=turns)
                    )
                )
                results["gateway"].append(
                    await gateway_cpu.over(
                        measure("gateway", webchat.session, concurrency=concurrency, turns=turns)
                    )
                )
            comparisons.append(
                Comparison(
                    concurrency,
                    merge(f"(a) Rasa server, c={concurrency}", results["rasa"]),
                    merge(f"(b) gateway web chat, c={concurrency}", results["gateway"]),
                    rasa_cpu,
                    gateway_cpu,
                )
            )
    finally:
        await direct.close()
        await webchat.close()
    return comparisons
