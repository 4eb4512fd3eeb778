"""`make loadtest`: mixed channels at sustained rates against the scaled setup, on loopback.

    .venv/bin/python -m bench.loadtest [--steps 10,20,30] [--seconds 60] [--turn-workers N]
    .venv/bin/python -m bench.loadtest --rate 15 [--seconds 120] [--json PATH]

Starts everything it measures on scratch resources of its own (see bench/scaled_stack.py):
PostgreSQL databases for the store and Rasa's tracker store, a Redis key prefix, the Rasa
server with deploy/endpoints.scaled.yml and its action server, and two gateway processes
sharing the store and Redis. The Twilio and Telegram APIs are stand-ins in this process.
Customers (bench/load_traffic.py) write on web chat, SMS, WhatsApp and Telegram, alternating
between the gateways; with turn worker processes (`caricom worker`) when the gateway has them.
By default it steps the rate up (bench/load_steps.py) until a step is not sustained and names
the highest that was; with --rate, one run at that rate. Prints progress every 10 s, then
throughput, p50/p99 turn latency and errors per channel, and each process's memory and CPU
(also per message). Everything it started is stopped and removed at the end, also on Ctrl-C or
when the run overruns its time bound.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench import load_steps
from bench import questions as catalogue
from bench.load_report import as_json, figures, print_report, table
from bench.load_traffic import (
    POOL,
    REPLY_TIMEOUT,
    ReportingTelegram,
    ReportingTwilio,
    Traffic,
)
from bench.proc_stats import ProcessWatch
from bench.processes import BENCH_GATEWAY_ENV
from bench.scaled_stack import SCALED_ENDPOINTS, ScaledRasa, ScratchData
from bench.stats import percentile
from bench.turn_workers import (
    DEFAULT_WORKERS,
    IN_WORKERS_ENV,
    TurnWorkers,
    mode_label,
    workers_supported,
)
from bot.assistant_model import PROJECT_ROOT
from tests.support.gateway_process import GatewayProcess
from tests.support.telegram_standin import WEBHOOK_SECRET, running_telegram_standin
from tests.support.twilio_standin import running_twilio_standin, twilio_settings

# Found by trying on a 2-core machine shared with other work: at 15 messages/s every message
# was answered with p99 under half a second while the machine was quiet; 20 and 25/s still held
# (p99 of seconds); at 30/s, with other work taking a core, the backlog grew without end.
DEFAULT_RATE = 15.0
SINGLE_RUN_SECONDS = 120.0
STEP_SECONDS = 60.0
QUICK_STEP_SECONDS = 20.0
STARTUP_SECONDS = 240  # Rasa loads its model, gateways check their schema
WARMUP_SECONDS = 10
PROGRESS_EVERY = 10
QUESTIONS_SCREENED = 240
SHORT_NAMES = {"rasa server": "rasa", "action server": "actions"}


class TimeBoundExceeded(Exception):
    """The run took longer than its hard bound: everything is stopped."""


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest",
        description="Mixed-channel load test against two gateways, Rasa and the action server.",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help=f"measured period (default {SINGLE_RUN_SECONDS:g} s; a step: {STEP_SECONDS:g} s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help=f"one run at this many customer messages a second, in total (e.g. {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--steps",
        default=",".join(f"{r:g}" for r in load_steps.DEFAULT_RATES),
        help="the rates to step through (messages/s, rising) when --rate is not given",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"steps of {QUICK_STEP_SECONDS:g} s, to try it out (figures are rough)",
    )
    parser.add_argument(
        "--turn-workers",
        type=int,
        help=f"turn worker processes (default: {DEFAULT_WORKERS} when the gateway has "
        "`caricom worker`, else 0: turns in the gateways)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "LOADTEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server (and a user that may create databases) for scratch databases",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="Redis for the gateways (own key prefix) and Rasa's lock store",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (arrivals, questions)")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this directory")
    args = parser.parse_args()
    try:
        args.rates = [args.rate] if args.rate is not None else load_steps.parse_rates(args.steps)
    except ValueError as error:
        parser.error(str(error))
    if args.seconds is None:
        single = SINGLE_RUN_SECONDS if args.rate is not None else STEP_SECONDS
        args.seconds = QUICK_STEP_SECONDS if args.quick else single
    if args.seconds <= 0 or args.rates[0] <= 0:
        parser.error("--seconds and --rate must be positive")
    supported = workers_supported()
    if args.turn_workers is None:
        args.turn_workers = DEFAULT_WORKERS if supported else 0
    elif args.turn_workers > 0 and not supported:
        parser.error("--turn-workers: this gateway has no `caricom worker` command")
    if args.rate is None and args.json:
        parser.error("--json is for one run at --rate")

    # The hard bound: start-up, warm-up, each run and its answers still due, stopping it all.
    each = args.seconds + REPLY_TIMEOUT + 5
    bound = STARTUP_SECONDS + WARMUP_SECONDS + each * len(args.rates) + 90
    signal.signal(signal.SIGALRM, _overran)
    signal.alarm(int(bound) + 30)  # a backstop, should the event loop itself be stuck
    try:
        code = asyncio.run(_bounded(args, bound))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nInterrupted: every process the load test started has been stopped.")
        code = 130
    except TimeBoundExceeded:
        print(f"\nThe load test overran its {bound:.0f} s bound; everything was stopped.")
        code = 3
    finally:
        signal.alarm(0)
    sys.exit(code)


def _overran(_signum: int, _frame: FrameType | None) -> None:
    raise TimeBoundExceeded


def _handle_stop_signals() -> None:
    """Ctrl-C and SIGTERM cancel the run, so every cleanup still runs; a second signal
    while stopping is ignored rather than cutting the cleanup short."""
    main_task = asyncio.current_task()
    assert main_task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, _stop_once, main_task)


def _stop_once(task: asyncio.Task[int]) -> None:
    if not task.cancelling():
        say("\nStopping (interrupted)…")
        task.cancel()


async def _bounded(args: argparse.Namespace, bound: float) -> int:
    _handle_stop_signals()
    try:
        async with asyncio.timeout(bound):
            return await _run(args)
    except TimeoutError:
        raise TimeBoundExceeded from None


async def _run(args: argparse.Namespace) -> int:
    offered = (
        f"{args.rate:g} messages/s"
        if args.rate is not None
        else "steps of " + ", ".join(f"{r:g}" for r in args.rates) + " messages/s"
    )
    say(
        f"Load test: {offered}, {args.seconds:g} s {'each' if args.rate is None else 'long'}, "
        f"{mode_label(args.turn_workers)}, on "
        f"{platform.node()} ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        "at start)"
    )
    async with AsyncExitStack() as stack:
        workdir = args.logs or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        data = ScratchData(args.postgres_url, args.redis_url)
        await data.check_redis()
        await asyncio.to_thread(data.create)
        stack.push_async_callback(_remove_data, data)
        say(
            f"Scratch databases {data.store_database}, {data.rasa_database}; Redis prefix "
            f"{data.redis_prefix}"
        )

        twilio = await stack.enter_async_context(running_twilio_standin(ReportingTwilio()))
        telegram = await stack.enter_async_context(running_telegram_standin(ReportingTelegram()))
        assert isinstance(twilio, ReportingTwilio) and isinstance(telegram, ReportingTelegram)

        rasa = ScaledRasa(workdir, {})
        rasa.env = data.rasa_env(rasa.actions_url)
        stack.callback(rasa.stop)
        say(
            f"Starting the Rasa server ({SCALED_ENDPOINTS.relative_to(PROJECT_ROOT)}) and the "
            "action server…"
        )
        await rasa.start(timeout=STARTUP_SECONDS)

        env = {
            **data.gateway_env(rasa.rasa_url),
            **{k: str(v) for k, v in twilio_settings(twilio.url).items()},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_SECRET_TOKEN": WEBHOOK_SECRET,
            "TELEGRAM_API_BASE_URL": telegram.url,
            **BENCH_GATEWAY_ENV,
        }
        if args.turn_workers:
            env.update(IN_WORKERS_ENV)
        gateways = [
            GatewayProcess(env=env, log_path=workdir / f"gateway-{name}.log") for name in "ab"
        ]
        await stack.enter_async_context(_started(gateways))
        say("Gateways ready: " + ", ".join(g.url for g in gateways))
        workers = TurnWorkers(args.turn_workers, env, workdir)
        stack.callback(workers.stop)
        workers.start()
        if args.turn_workers:
            say(f"Turn workers started: {args.turn_workers}")

        watch = ProcessWatch(
            {
                "rasa server": rasa.processes["rasa"].pid,
                "action server": rasa.processes["actions"].pid,
                "gateway A": gateways[0].pid,
                "gateway B": gateways[1].pid,
                **workers.pids,
            },
            database_tag=data.tag,
        )
        watch.started()
        database_at_start = await asyncio.to_thread(data.usage)

        candidates = catalogue.sample(catalogue.catalogue(), QUESTIONS_SCREENED, seed=args.seed)
        asked = await catalogue.screen(rasa.rasa_url, candidates)
        say(
            f"Questions: {len(asked)} of {len(candidates)} sampled from data/nlu/ are answered "
            "by the assistant itself (no handoff); customers ask those"
        )
        if not asked:
            raise RuntimeError("no question of the catalogue is answered by the assistant")

        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))
        )
        traffic = Traffic(
            gateways=[g.url for g in gateways],
            twilio=twilio,
            telegram=telegram,
            http=http,
            questions=asked,
            seed=args.seed,
        )
        stack.push_async_callback(traffic.close)
        await traffic.open()
        # The first Socket.IO client takes SIGINT over (to disconnect on Ctrl-C): take it back.
        _handle_stop_signals()
        say(
            f"Customers: {', '.join(f'{n} {c}' for c, n in POOL.items())} (web chat sockets "
            "split between the gateways; webhooks alternate)"
        )

        say(f"Warm-up: {WARMUP_SECONDS} s (not counted)")
        await traffic.generate(seconds=WARMUP_SECONDS, rate=args.rates[0], measured=False)
        await traffic.drain(timeout=15)
        if args.rate is None:
            return await _step_search(args, traffic, watch, workers)

        say(f"Measuring {args.seconds:g} s at {args.rate:g} messages/s…")
        checkpoints = await asyncio.to_thread(data.checkpoints)
        timeline: list[dict[str, Any]] = []
        watch.begin_cpu()
        started = time.monotonic()
        progress = asyncio.create_task(_progress(traffic, watch, started, timeline, first=0))
        try:
            await traffic.generate(seconds=args.seconds, rate=args.rate, measured=True)
        finally:
            progress.cancel()
        measured_seconds = time.monotonic() - started
        watch.finish()
        checkpoints = await asyncio.to_thread(data.checkpoints) - checkpoints
        database_at_end = await asyncio.to_thread(data.usage)
        say(
            f"Load stopped after {measured_seconds:.0f} s; waiting for answers still due "
            f"(up to {REPLY_TIMEOUT:.0f} s)…"
        )
        await traffic.drain(timeout=REPLY_TIMEOUT + 2)

        rows = figures(traffic.turns, measured_seconds)
        log_errors = {g.log_path.name: _error_lines(g.log_path) for g in gateways}
        warmup_errors = figures(traffic.turns, WARMUP_SECONDS, measured=False)
        extra = {
            "measured_seconds": round(measured_seconds, 1),
            "customers": len(traffic.customers),
            "generator_lag_ms_max": round(traffic.tally.generator_lag_ms, 1),
            "twilio_status_callbacks": dict(traffic.tally.status_callbacks),
            "late_reply_parts": traffic.tally.late_parts,
            "stray_replies": traffic.tally.stray_replies,
            "warmup_errors": warmup_errors[-1].errors,
            "gateway_log_error_lines": log_errors,
            "postgres_checkpoints_during_run": checkpoints,
            # Customer messages each database saw: the store, those of warm-up and load; Rasa's
            # tracker store, the screening questions too.
            "databases": {
                name: {
                    "grew_bytes": database_at_end[name]["bytes"] - database_at_start[name]["bytes"],
                    "customer_messages": len(traffic.turns)
                    + (len(asked) if name == data.rasa_database else 0),
                    "connections_at_end_of_load": database_at_end[name]["connections"],
                }
                for name in database_at_end
            },
            "timeline": timeline,
        }
        print_report(args.rate, rows, watch, measured_seconds, extra)
        if args.json:
            settings = {
                "seconds": args.seconds,
                "rate": args.rate,
                "seed": args.seed,
                "pool": POOL,
                "host": platform.node(),
                "cores": os.cpu_count(),
            }
            document = as_json(
                rows=rows, watch=watch, seconds=measured_seconds, settings=settings, extra=extra
            )
            args.json.write_text(json.dumps(document, indent=2) + "\n")
            say(f"Figures written to {args.json}")
        say("Stopping every process and removing the scratch databases and Redis keys…")
        failed = rows[-1].errors + warmup_errors[-1].errors
    return 1 if failed else 0


@asynccontextmanager
async def _started(gateways: list[GatewayProcess]) -> AsyncIterator[None]:
    """Start the gateways side by side (their start blocks until /readyz), stop them after."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(gateways))
    starts = [pool.submit(g.start) for g in gateways]
    try:
        await asyncio.gather(*(asyncio.wrap_future(s) for s in starts))
        yield
    finally:
        # A start cancelled mid-way still runs in its thread: let it finish, then stop it all.
        concurrent.futures.wait(starts, timeout=70)
        for gateway in gateways:
            gateway.stop()
        pool.shutdown(wait=False)


async def _step_search(
    args: argparse.Namespace, traffic: Traffic, watch: ProcessWatch, workers: TurnWorkers
) -> int:
    """Step the rate up on the running setup; 0 when the first step at least was sustained."""

    async def run_step(rate: float) -> tuple[float, int]:
        say(f"Step: {rate:g} messages/s for {args.seconds:g} s…")
        first = len(traffic.turns)
        started = time.monotonic()
        progress = asyncio.create_task(_progress(traffic, watch, started, [], first=first))
        try:
            await traffic.generate(seconds=args.seconds, rate=rate, measured=True)
        finally:
            progress.cancel()
        measured_seconds = time.monotonic() - started
        say(f"  waiting for answers still due (up to {REPLY_TIMEOUT:.0f} s)…")
        # CPU is counted to the last answer: a step's backlog is its own cost.
        await traffic.drain(timeout=REPLY_TIMEOUT + 2)
        workers.check_alive()
        return measured_seconds, first

    steps = await load_steps.search(
        args.rates, run_step, lambda first: traffic.turns[first:], watch, say
    )
    print()
    print(
        f"Steps ({mode_label(args.turn_workers)}; CPU ms per answered message, each process's "
        "own CPU time from the step's first message to its last answer):"
    )
    print(load_steps.header())
    print("\n".join(load_steps.step_row(step) for step in steps))
    print(load_steps.verdict(steps))
    print(f"\nThe last step ({steps[-1].rate:g} messages/s) by channel:")
    print("\n".join(table(steps[-1].rows)))
    say("Stopping every process and removing the scratch databases and Redis keys…")
    return 0 if steps[0].sustained else 1


async def _remove_data(data: ScratchData) -> None:
    await data.clear_redis()
    await asyncio.to_thread(data.drop)


async def _progress(
    traffic: Traffic,
    watch: ProcessWatch,
    started: float,
    timeline: list[dict[str, Any]],
    *,
    first: int,
) -> None:
    """A line every PROGRESS_EVERY seconds: counts so far (of turns from index `first` on),
    latency of the last interval, RSS."""
    seen = 0
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        measured = [t for t in traffic.turns[first:] if t.measured]
        window = [t.latency_ms for t in measured[seen:] if t.latency_ms is not None]
        seen = len(measured)
        answered = sum(1 for t in measured if t.latency_ms is not None)
        # Unanswered turns are still in flight here: only what has failed for sure counts.
        failed = sum(1 for t in measured if t.failure is not None) + sum(
            t.duplicates for t in measured
        )
        memory = watch.sample()
        p50 = f"{percentile(window, 50):,.0f}" if window else "-"
        p99 = f"{percentile(window, 99):,.0f}" if window else "-"
        timeline.append(
            {
                "at_seconds": round(time.monotonic() - started),
                "sent": len(measured),
                "answered": answered,
                "in_flight": traffic.in_flight(),
                "window_p50_ms": round(percentile(window, 50), 1) if window else None,
                "window_p99_ms": round(percentile(window, 99), 1) if window else None,
                "rss_mib": {name: round(mib, 1) for name, mib in memory.items()},
            }
        )
        say(
            f"  [{time.monotonic() - started:4.0f} s] sent {len(measured):>5}  answered "
            f"{answered:>5}  in flight {traffic.in_flight():>3}  errors {failed}  | last "
            f"{PROGRESS_EVERY} s p50 {p50} ms p99 {p99} ms | RSS MiB "
            + ", ".join(f"{SHORT_NAMES.get(name, name)} {mib:.0f}" for name, mib in memory.items())
        )


def _error_lines(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(
        1
        for line in path.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line
    )


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    main()
