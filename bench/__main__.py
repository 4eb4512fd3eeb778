"""`make bench`: start the real processes, measure side by side, print a report."""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
from pathlib import Path

from bench import assignment, claims, export, turns, understanding, webhooks
from bench.processes import gateway_process, rasa_stack

PARTS = ("turns", "understanding", "claims", "assignment", "export")


def main() -> None:
    parser = argparse.ArgumentParser(description="Caricom Connects benchmarks")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setting")
    parser.add_argument("--turns", type=int, default=160, help="turns per round")
    parser.add_argument(
        "--messages", type=int, default=200, help="messages per round, with and without encoder"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeat for several); turns include the webhook acknowledgement",
    )
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    if "turns" in parts or "understanding" in parts:
        _rasa_parts(args, parts)
    if "claims" in parts:
        print("\nClaiming the next conversation (20 reps at once, 2,000 queued, PostgreSQL)")
        print("\n".join(claims.run()))
    if "assignment" in parts:
        print(
            "\nAuto-assignment (50 reps in two teams and two languages, 2,000 waiting, "
            "2 assigners at once, PostgreSQL)"
        )
        print("\n".join(assignment.run()))
    if "export" in parts:
        print("\nExport and reports at 100,000 conversations (scratch SQLite)")
        print("\n".join(export.run()))


def _rasa_parts(args: argparse.Namespace, parts: set[str]) -> None:
    """The parts that start the real Rasa stack: turns and webhooks, then understanding."""
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        workdir = Path(tmp)
        if "turns" in parts:
            with (
                rasa_stack(workdir) as stack,
                gateway_process(workdir, rasa_url=stack.rasa_url) as gateway,
            ):
                report = asyncio.run(
                    turns.compare(stack.rasa_url, gateway, rounds=args.rounds, turns=args.turns)
                )
                webhook_report = webhooks.run(workdir / "webhooks", stack.rasa_url)
            print(
                f"\nTurn latency and throughput ({platform.node()}, "
                f"{args.rounds} alternating rounds of {args.turns} turns)"
            )
            print("\n".join(report))
            print(
                f"\nTwilio webhook acknowledgement ({webhooks.SENDERS} customers texting at once)"
            )
            print("\n".join(webhook_report))
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
