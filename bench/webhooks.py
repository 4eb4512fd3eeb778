"""Twilio webhook acknowledgement: how fast the gateway answers Twilio while turns are running.

16 customers text the gateway, 20 messages each, in two ways on the same gateway:
- open loop: each about once a second (Poisson arrivals), whether or not their last answer has
  come, so a slow acknowledgement cannot hide by slowing the senders down;
- burst: each posts its next message as soon as the last is acknowledged (closed loop), several
  times what the assistant can answer, as after a marketing message or when Twilio delivers a
  backlog after a network hiccup. The acknowledgement must not wait for the turns piling up.
Every webhook is signed as Twilio signs it; the gateway is a uvicorn process as in production
(with turn worker processes, in that mode), its turns run on the real assistant, and its replies
go to a stand-in of Twilio's Messages API, where the time to each answer is taken too. CPU used
by each process over a run (first message to last answer) is divided by the messages answered.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from bench.proc_stats import ProcessWatch
from bench.processes import RunningGateway
from bench.queue_gauges import QueueGauges
from bench.stats import Summary
from bench.turn_workers import TurnWorkers
from bench.turns import QUESTIONS
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
)

SENDERS = 16
MESSAGES_PER_SENDER = 20  # one conversation each, as long as the turn benchmark's
MESSAGES_PER_SECOND = 1.0  # per sender, on average (open loop)
TARGET_P99_MS = 50.0
ANSWER_TIMEOUT = 180.0  # a burst is answered at the assistant's pace, well behind the acks
LOADS = ("open loop", "burst")
# Warm-up customers, then each load's, in number ranges of their own (one conversation each).
FIRST_NUMBER = {"warm-up": 900, "open loop": 0, "burst": 300}


@dataclass
class AckRun:
    """One load on one gateway: acknowledgements, answers, and CPU per answered message."""

    load: str
    acknowledged: Summary
    answered: Summary
    cpu_ms_per_message: dict[str, float]  # by group: gateway, workers, rasa, actions, postgres
    gauges: QueueGauges
    unanswered: int  # acknowledged, and no answer at Twilio's API within ANSWER_TIMEOUT

    @property
    def gateway_cpu_ms(self) -> float:
        """The gateway's work per message: its own process and its turn workers'."""
        return self.cpu_ms_per_message["gateway"] + self.cpu_ms_per_message["workers"]


async def measure(
    gateway: RunningGateway,
    workers: TurnWorkers,
    api_port: int,
    *,
    others: Mapping[str, int],
    database_tag: str = "",
    senders: int = SENDERS,
    messages: int = MESSAGES_PER_SENDER,
) -> list[AckRun]:
    """Warm up, then the open-loop load and the burst, one after the other, on one gateway.

    `others`: the other processes whose CPU is counted (the Rasa server, the action server).
    """
    async with (
        running_twilio_standin(port=api_port) as api,
        httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=senders)) as client,
    ):
        twilio = TwilioWebhookSender(gateway.url, client=client)
        # Warm-up: connections, caches, the first turn of each kind.
        await asyncio.gather(
            *(_customer(twilio, api, FIRST_NUMBER["warm-up"] + n, 2) for n in range(senders))
        )
        runs = []
        for load in LOADS:
            print(f"    {load}: {senders} customers x {messages} messages…", flush=True)
            runs.append(
                await _one_load(
                    load, twilio, api, gateway, workers, others, database_tag, senders, messages
                )
            )
        return runs


async def _one_load(
    load: str,
    twilio: TwilioWebhookSender,
    api: TwilioStandIn,
    gateway: RunningGateway,
    workers: TurnWorkers,
    others: Mapping[str, int],
    database_tag: str,
    senders: int,
    messages: int,
) -> AckRun:
    groups = {"gateway": [gateway.pid], "workers": list(workers.pids.values())}
    groups.update({name: [pid] for name, pid in others.items()})
    watch = ProcessWatch(
        {f"{group} {pid}": pid for group, pids in groups.items() for pid in pids},
        database_tag=database_tag,
    )
    acknowledgements: list[float] = []
    answers: list[float] = []
    unanswered: list[str] = []
    gauges = QueueGauges(gateway.url)
    sampling = asyncio.create_task(gauges.sample_until_cancelled())
    watch.begin_cpu()
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                _customer(
                    twilio,
                    api,
                    FIRST_NUMBER[load] + n,
                    messages,
                    acknowledgements,
                    answers,
                    unanswered,
                    rate=MESSAGES_PER_SECOND if load == "open loop" else None,
                )
                for n in range(senders)
            )
        )
    finally:
        sampling.cancel()
    wall = time.perf_counter() - started
    watch.finish()
    workers.check_alive()
    cpu = {
        group: sum(watch.cpu_used.get(f"{group} {pid}", 0.0) for pid in pids)
        for group, pids in groups.items()
    }
    if database_tag:
        cpu["postgres"] = watch.cpu_used.get("postgres backends", 0.0)
    return AckRun(
        load=load,
        acknowledged=Summary(f"{load} acknowledged", acknowledgements, wall),
        answered=Summary(f"{load} answered", answers, wall),
        cpu_ms_per_message={k: v * 1000 / max(1, len(answers)) for k, v in cpu.items()},
        gauges=gauges,
        unanswered=len(unanswered),
    )


async def _customer(
    twilio: TwilioWebhookSender,
    api: TwilioStandIn,
    number: int,
    messages: int,
    acknowledgements: list[float] | None = None,
    answers: list[float] | None = None,
    unanswered: list[str] | None = None,
    *,
    rate: float | None = MESSAGES_PER_SECOND,
) -> None:
    """One customer: sends `messages` questions, then waits for every answer.

    `rate` messages a second on average (random intervals); None: the next message as soon as
    the last is acknowledged.
    """
    phone = f"+1246555{number:04d}"
    questions = itertools.cycle(QUESTIONS[number % len(QUESTIONS) :] + QUESTIONS)
    pause = random.Random(number)
    waiting: list[asyncio.Task[None]] = []
    for sent in range(1, messages + 1):
        if rate is not None:
            await asyncio.sleep(pause.expovariate(rate))
        started = time.perf_counter()
        response = await twilio.message(sms(phone, next(questions)))
        if acknowledgements is not None:
            acknowledgements.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")
        waiting.append(asyncio.create_task(_answered(api, phone, sent, started, answers)))
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    missing = [o for o in outcomes if isinstance(o, BaseException)]
    if missing and unanswered is None:  # warm-up: the run would measure a broken setup
        raise RuntimeError(f"{phone}: {len(missing)} message(s) never answered") from missing[0]
    if unanswered is not None:
        unanswered.extend(f"{phone}: {type(o).__name__}" for o in missing)


async def _answered(
    api: TwilioStandIn, phone: str, count: int, started: float, answers: list[float] | None
) -> None:
    """The `count`th answer to `phone` has arrived (the answers come in the messages' order)."""
    await api.wait_for(phone, count, timeout=ANSWER_TIMEOUT)
    if answers is not None:
        answers.append((time.perf_counter() - started) * 1000)
