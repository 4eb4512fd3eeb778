"""Twilio webhook acknowledgement: how fast the gateway answers Twilio while turns are running.

16 customers text the gateway at once, each about once a second (Poisson arrivals), whether or
not their last answer has come: an open loop, so a slow acknowledgement cannot hide by slowing
the senders down. Every webhook is signed as Twilio signs it; the gateway is a uvicorn process
as in production, its turns run on the real assistant, and its replies go to a stand-in of
Twilio's Messages API, where the time to each answer is taken too.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from pathlib import Path

import httpx

from bench.processes import gateway_process
from bench.stats import Summary
from bench.turns import QUESTIONS
from tests.support.net import free_port
from tests.support.twilio_standin import (
    TwilioStandIn,
    TwilioWebhookSender,
    running_twilio_standin,
    sms,
    twilio_settings,
)

SENDERS = 16
MESSAGES_PER_SENDER = 20  # one conversation each, as long as the turn benchmark's
MESSAGES_PER_SECOND = 1.0  # per sender, on average
TARGET_P99_MS = 50.0


def run(workdir: Path, rasa_url: str, *, senders: int = SENDERS) -> list[str]:
    """Start a gateway wired to a Twilio stand-in, measure, and return report lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    api_port = free_port()
    env = {k: str(v) for k, v in twilio_settings(f"http://127.0.0.1:{api_port}").items()}
    with gateway_process(workdir, rasa_url=rasa_url, extra_env=env) as gateway_url:
        return asyncio.run(_measure(gateway_url, api_port, senders))


async def _measure(gateway_url: str, api_port: int, senders: int) -> list[str]:
    async with (
        running_twilio_standin(port=api_port) as api,
        httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=senders)) as client,
    ):
        twilio = TwilioWebhookSender(gateway_url, client=client)
        # Warm-up: connections, caches, the first turn of each kind.
        await asyncio.gather(*(_customer(twilio, api, 900 + n, 2, [], []) for n in range(senders)))
        acknowledgements: list[float] = []
        answers: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _customer(twilio, api, n, MESSAGES_PER_SENDER, acknowledgements, answers)
                for n in range(senders)
            )
        )
        wall = time.perf_counter() - started
    acknowledged = Summary(f"(c) Twilio webhook acknowledged, c={senders}", acknowledgements, wall)
    answered = Summary(f"    answer at Twilio's API, c={senders}", answers, wall)
    verdict = "meets" if acknowledged.p99 <= TARGET_P99_MS else "misses"
    return [
        acknowledged.row(),
        answered.row(),
        f"  acknowledgement p99 {acknowledged.p99:.1f} ms {verdict} the "
        f"{TARGET_P99_MS:.0f} ms target ({MESSAGES_PER_SECOND:g} message/s per customer)",
    ]


async def _customer(
    twilio: TwilioWebhookSender,
    api: TwilioStandIn,
    number: int,
    messages: int,
    acknowledgements: list[float],
    answers: list[float],
) -> None:
    """One customer: sends `messages` questions at random intervals, then waits for answers."""
    phone = f"+1246555{number:04d}"
    questions = itertools.cycle(QUESTIONS[number % len(QUESTIONS) :] + QUESTIONS)
    pause = random.Random(number)
    waiting: list[asyncio.Task[None]] = []
    for sent in range(1, messages + 1):
        await asyncio.sleep(pause.expovariate(MESSAGES_PER_SECOND))
        started = time.perf_counter()
        response = await twilio.message(sms(phone, next(questions)))
        acknowledgements.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")
        waiting.append(asyncio.create_task(_answered(api, phone, sent, started, answers)))
    await asyncio.gather(*waiting)


async def _answered(
    api: TwilioStandIn, phone: str, count: int, started: float, answers: list[float]
) -> None:
    await api.wait_for(phone, count, timeout=120)
    answers.append((time.perf_counter() - started) * 1000)
