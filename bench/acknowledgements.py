"""Webhook acknowledgement on both stores and in both modes, side by side (`make bench`).

For each mode (turns in the gateway's event loop; turns in N worker processes, when the gateway
has them) and each store (SQLite file; a scratch PostgreSQL database, dropped afterwards), one
gateway takes the open-loop load and then the burst of bench/webhooks.py. The worker mode needs
Redis (live updates cross processes): a key prefix of the run's own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import webhooks
from bench.processes import gateway_process
from bench.rasa_stack import RasaStack
from bench.scaled_stack import ScratchData
from bench.turn_workers import IN_WORKERS_ENV, mode_label, running_workers
from tests.support.net import free_port
from tests.support.twilio_standin import twilio_settings

STORES = ("SQLite", "PostgreSQL")


@dataclass
class AckSetting:
    store: str
    workers: int
    runs: list[webhooks.AckRun]
    log: Path  # the gateway's

    def run(self, load: str) -> webhooks.AckRun:
        return next(r for r in self.runs if r.load == load)


def run(
    workdir: Path,
    stack: RasaStack,
    *,
    worker_counts: list[int],
    postgres_url: str,
    redis_url: str,
    messages: int,
) -> list[AckSetting]:
    """Every mode on every store; prints progress as it goes."""
    settings = []
    for workers in worker_counts:
        for store in STORES:
            print(f"  Acknowledgement, {store}, {mode_label(workers)}:", flush=True)
            folder = workdir / f"acks-{store.lower()}-{workers}"
            folder.mkdir(parents=True, exist_ok=True)
            runs = _one_setting(
                folder,
                stack,
                store=store,
                workers=workers,
                data=ScratchData(
                    postgres_url,
                    redis_url,
                    tag=f"cc_bench_{uuid.uuid4().hex[:10]}",
                    with_rasa_database=False,
                ),
                messages=messages,
            )
            settings.append(AckSetting(store, workers, runs, folder / "gateway.log"))
    return settings


def _one_setting(
    workdir: Path, stack: RasaStack, *, store: str, workers: int, data: ScratchData, messages: int
) -> list[webhooks.AckRun]:
    on_postgres = store == "PostgreSQL"
    api_port = free_port()
    env = {k: str(v) for k, v in twilio_settings(f"http://127.0.0.1:{api_port}").items()}
    if workers:
        env.update(IN_WORKERS_ENV, REDIS_URL=data.redis_url, REDIS_PREFIX=data.redis_prefix)
    if on_postgres:
        data.create()
    try:
        with (
            gateway_process(
                workdir,
                rasa_url=stack.rasa_url,
                extra_env=env,
                database_url=data.store_url if on_postgres else None,
            ) as gateway,
            running_workers(workers, gateway.env, workdir) as started,
        ):
            return asyncio.run(
                webhooks.measure(
                    gateway,
                    started,
                    api_port,
                    others={"rasa": stack.pids["rasa"], "actions": stack.pids["actions"]},
                    database_tag=data.tag if on_postgres else "",
                    messages=messages,
                )
            )
    finally:
        if workers:
            asyncio.run(data.clear_redis())
        if on_postgres:
            data.drop()


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def report(settings: list[AckSetting], *, messages: int) -> list[str]:
    """Two tables: latency per store, mode and load; then CPU per answered message.

    The backlog's peak: messages waiting for a turn, and the oldest one's wait, as the
    gateway's /metrics reported them (when it does).
    """
    head = f"  {'store':<10} {'turns run in':<17} {'load':<9}"
    lines = [
        head + f" {'ack p50':>8} {'ack p99':>8} {'answer p50':>10} {'answer p99':>10} "
        f"{'answered/s':>10} {'unanswered':>10}  {'backlog peak':>14}",
    ]
    for setting in settings:
        for run in setting.runs:
            verdict = "ok" if run.acknowledged.p99 <= webhooks.TARGET_P99_MS else "SLOW"
            if run.unanswered:
                verdict += f", {run.unanswered} UNANSWERED (gateway log: {setting.log})"
            lines.append(
                f"  {setting.store:<10} {mode_label(setting.workers):<17} {run.load:<9} "
                f"{_ms(run.acknowledged.p50):>8} {_ms(run.acknowledged.p99):>8} "
                f"{_ms(run.answered.p50):>10} {_ms(run.answered.p99):>10} "
                f"{run.answered.per_second:>10.1f} {run.unanswered:>10}  {run.gauges.peaks():>14}  "
                f"{verdict}"
            )
    lines += [
        "  backlog peak: messages waiting for a turn / the oldest one's wait, from /metrics "
        "(-: this gateway does not report them)",
        "",
        f"  CPU ms per answered message (each process's own CPU time over the load; "
        f"{webhooks.SENDERS} x {messages} messages)",
        head + f" {'gateway':>8} {'workers':>8} {'together':>8} {'rasa':>8} {'actions':>8} "
        f"{'postgres':>8}",
    ]
    for setting in settings:
        for run in setting.runs:
            cpu = run.cpu_ms_per_message
            postgres = _ms(cpu["postgres"]) if "postgres" in cpu else "-"
            lines.append(
                f"  {setting.store:<10} {mode_label(setting.workers):<17} {run.load:<9} "
                f"{_ms(cpu['gateway']):>8} {_ms(cpu['workers']):>8} {_ms(run.gateway_cpu_ms):>8} "
                f"{_ms(cpu['rasa']):>8} {_ms(cpu['actions']):>8} {postgres:>8}"
            )
    return lines
