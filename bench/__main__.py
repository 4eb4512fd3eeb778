"""`make bench`: start the real processes, measure side by side, print a report."""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
from pathlib import Path

from bench import turns
from bench.processes import gateway_process, rasa_stack


def main() -> None:
    parser = argparse.ArgumentParser(description="Caricom Connects benchmarks")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setting")
    parser.add_argument("--turns", type=int, default=160, help="turns per round")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        workdir = Path(tmp)
        with (
            rasa_stack(workdir) as stack,
            gateway_process(workdir, rasa_url=stack.rasa_url) as gateway,
        ):
            report = asyncio.run(
                turns.compare(stack.rasa_url, gateway, rounds=args.rounds, turns=args.turns)
            )
    print(
        f"\nTurn latency and throughput ({platform.node()}, "
        f"{args.rounds} alternating rounds of {args.turns} turns)"
    )
    print("\n".join(report))


if __name__ == "__main__":
    main()
