"""`make bench`: start the real processes, measure side by side, print a report."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path

from bench import acknowledgements, assignment, claims, export, targets, turns, understanding
from bench.processes import gateway_process, rasa_stack
from bench.turn_workers import worker_counts
from bench.webhooks import MESSAGES_PER_SECOND, MESSAGES_PER_SENDER, SENDERS

PARTS = ("turns", "acks", "understanding", "claims", "assignment", "export")
QUICK = {"rounds": 1, "turns": 48, "messages": 60, "ack_messages": 6}
# The sizes of the store benchmarks (conversations queued, waiting, exported).
FULL_SIZES = {"queued": 2_000, "waiting": 2_000, "conversations": 100_000}
QUICK_SIZES = {"queued": 500, "waiting": 500, "conversations": 10_000}


def main() -> None:
    parser = argparse.ArgumentParser(description="Caricom Connects benchmarks")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setting")
    parser.add_argument("--turns", type=int, default=160, help="turns per round")
    parser.add_argument(
        "--messages", type=int, default=200, help="messages per round, with and without encoder"
    )
    parser.add_argument(
        "--ack-messages",
        type=int,
        default=MESSAGES_PER_SENDER,
        help=f"messages per SMS customer ({SENDERS} of them) in the acknowledgement runs",
    )
    parser.add_argument(
        "--turn-workers",
        type=int,
        default=None,
        help="worker processes in the worker mode, measured beside turns in the gateway "
        "(default: 2 when the gateway has `caricom worker`; 0: that mode alone)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds, turns and messages, to try the benchmarks out (figures are rough)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server (and a user that may create databases) for scratch databases",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="Redis for the worker mode (a key prefix of the run's own, deleted afterwards)",
    )
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this directory")
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeat for several); acks: webhook acknowledgement",
    )
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    parts = set(args.only or PARTS)
    # Before anything starts: a worker count this gateway cannot run stops the run here.
    args.worker_counts = worker_counts(args.turn_workers) if "acks" in parts else []
    started = time.monotonic()
    if parts & {"turns", "acks", "understanding"}:
        _rasa_parts(args, parts)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if "claims" in parts:
        print(
            f"\nClaiming the next conversation (20 reps at once, {sizes['queued']:,} queued, "
            "PostgreSQL)"
        )
        print("\n".join(claims.run(queued=sizes["queued"])))
    if "assignment" in parts:
        print(
            "\nAuto-assignment (50 reps in two teams and two languages, "
            f"{sizes['waiting']:,} waiting, 2 assigners at once, PostgreSQL)"
        )
        print("\n".join(assignment.run(waiting=sizes["waiting"])))
    if "export" in parts:
        print(f"\nExport and reports at {sizes['conversations']:,} conversations (scratch SQLite)")
        print("\n".join(export.run(conversations=sizes["conversations"])))
    print(f"\nBenchmarks took {(time.monotonic() - started) / 60:.1f} min.")


def _rasa_parts(args: argparse.Namespace, parts: set[str]) -> None:
    """The parts that start the real Rasa stack: turns and webhooks, then understanding."""
    summary: list[targets.Target] = []
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        workdir = args.logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if parts & {"turns", "acks"}:
            with rasa_stack(workdir) as stack:
                if "turns" in parts:
                    print("Web chat turns, straight to Rasa and through the gateway:", flush=True)
                    with gateway_process(workdir, rasa_url=stack.rasa_url) as gateway:
                        comparisons = asyncio.run(
                            turns.compare(
                                stack.rasa_url,
                                gateway.url,
                                {"gateway": gateway.pid, "rasa": stack.pids["rasa"]},
                                rounds=args.rounds,
                                turns=args.turns,
                            )
                        )
                    print(
                        f"\nTurn latency and throughput ({platform.node()}, "
                        f"{args.rounds} alternating rounds of {args.turns} turns)"
                    )
                    print("\n".join(line for c in comparisons for line in c.lines()))
                    summary += targets.turn_targets(comparisons)
                if "acks" in parts:
                    settings = acknowledgements.run(
                        workdir,
                        stack,
                        worker_counts=args.worker_counts,
                        postgres_url=args.postgres_url,
                        redis_url=args.redis_url,
                        messages=args.ack_messages,
                    )
                    print(
                        f"\nTwilio webhook acknowledgement ({SENDERS} SMS customers x "
                        f"{args.ack_messages} messages: open loop {MESSAGES_PER_SECOND:g} "
                        "message/s each; burst: the next as soon as the last is acknowledged)"
                    )
                    print("\n".join(acknowledgements.report(settings, messages=args.ack_messages)))
                    summary += targets.ack_targets(settings)
            if summary:
                print("\nSpeed under pressure: this run against the targets")
                print("\n".join(targets.table(summary)))
        if "understanding" in parts:
            # After the stack above has stopped: two Rasa servers at once would share two cores.
            nlu_report = understanding.compare(
                workdir / "understanding", rounds=args.rounds, messages=args.messages
            )
            print(
                f"\nUnderstanding with and without the sentence encoder ({args.rounds} "
                f"alternating rounds of {args.messages} messages, one Rasa server at a time)"
            )
            print("\n".join(nlu_report))


if __name__ == "__main__":
    main()
