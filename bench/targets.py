"""The speed targets of "fast under pressure", and this run's figures against them."""

from __future__ import annotations

from dataclasses import dataclass

from bench.acknowledgements import AckSetting
from bench.turn_workers import mode_label
from bench.turns import Comparison
from bench.webhooks import TARGET_P99_MS

MAX_P50_OVERHEAD = 0.15  # the gateway adds at most 15 % to the bare Rasa turn at one customer
MIN_THROUGHPUT_SHARE = 0.95  # and delivers 95 % of Rasa's turns a second at 16
MAX_GATEWAY_CPU_MS = 8.0  # per message
MIN_SUSTAINED_RATE = 40.0  # messages/s, mixed, p99 <= 500 ms, 0 errors (make loadtest)


@dataclass
class Target:
    what: str
    measured: str
    goal: str
    met: bool | None  # None: shown for reading, not a target
    note: str = ""

    def row(self) -> str:
        verdict = {True: "meets", False: "MISSES", None: ""}[self.met]
        row = f"  {self.what:<58} {self.measured:>13}  {self.goal:>10}  {verdict:<6} {self.note}"
        return row.rstrip()


def turn_targets(comparisons: list[Comparison]) -> list[Target]:
    found = []
    for c in comparisons:
        overhead = c.p50_ratio - 1
        found.append(
            Target(
                f"web chat turn, gateway vs bare Rasa, p50, c={c.concurrency}",
                f"x{c.p50_ratio:.2f} ({overhead * 100:+.0f} %)",
                f"<= +{MAX_P50_OVERHEAD * 100:.0f} %" if c.concurrency == 1 else "",
                overhead <= MAX_P50_OVERHEAD if c.concurrency == 1 else None,
            )
        )
        if c.concurrency > 1:
            found.append(
                Target(
                    f"web chat turns/s, gateway vs bare Rasa, c={c.concurrency}",
                    f"{c.throughput_ratio * 100:.0f} %",
                    f">= {MIN_THROUGHPUT_SHARE * 100:.0f} %",
                    c.throughput_ratio >= MIN_THROUGHPUT_SHARE,
                )
            )
        found.append(
            Target(
                f"gateway CPU per web chat turn, c={c.concurrency}",
                f"{c.gateway_cpu.ms_per_turn('gateway'):.1f} ms",
                f"<= {MAX_GATEWAY_CPU_MS:g} ms",
                c.gateway_cpu.ms_per_turn("gateway") <= MAX_GATEWAY_CPU_MS,
                f"(Rasa's {c.gateway_cpu.ms_per_turn('rasa'):.1f} ms)",
            )
        )
    return found


def ack_targets(settings: list[AckSetting]) -> list[Target]:
    found = []
    for s in settings:
        burst, open_loop = s.run("burst"), s.run("open loop")
        where = f"{s.store}, {mode_label(s.workers)}"
        found += [
            Target(
                f"burst acknowledgement p99, {where}",
                f"{burst.acknowledged.p99:,.1f} ms",
                f"<= {TARGET_P99_MS:g} ms",
                burst.acknowledged.p99 <= TARGET_P99_MS,
                f"({burst.unanswered} never answered)" if burst.unanswered else "",
            ),
            Target(
                f"open-loop acknowledgement p99, {where}",
                f"{open_loop.acknowledged.p99:,.1f} ms",
                f"<= {TARGET_P99_MS:g} ms",
                open_loop.acknowledged.p99 <= TARGET_P99_MS,
                f"({open_loop.unanswered} never answered)" if open_loop.unanswered else "",
            ),
            Target(
                f"gateway CPU per SMS, burst, {where}",
                f"{burst.gateway_cpu_ms:.1f} ms",
                f"<= {MAX_GATEWAY_CPU_MS:g} ms",
                burst.gateway_cpu_ms <= MAX_GATEWAY_CPU_MS,
                f"(workers included; Rasa's {burst.cpu_ms_per_message['rasa']:.1f} ms)"
                if s.workers
                else f"(Rasa's {burst.cpu_ms_per_message['rasa']:.1f} ms)",
            ),
        ]
    return found


def table(targets: list[Target]) -> list[str]:
    lines = [f"  {'':<58} {'this run':>13}  {'target':>10}", *(t.row() for t in targets)]
    lines.append(
        f"  {'sustained mixed rate, p99 <= 500 ms, 0 errors':<58} {'make loadtest':>13}  "
        f"{f'>= {MIN_SUSTAINED_RATE:g}/s':>10}"
    )
    return lines
