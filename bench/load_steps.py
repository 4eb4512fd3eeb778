"""`make loadtest`'s step search: the highest mixed rate the scaled setup sustains.

Each step offers a higher rate (messages a second, all channels) for a fixed time to the same
running setup, waits for the answers still due, and keeps its own figures. A step is sustained
when every message was answered, with no error, and the p99 turn latency is within the bound;
the search stops at the first step that is not (the steps above it would only pile up more).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.load_report import ChannelFigures, cpu_ms_per_message, figures
from bench.load_traffic import Turn
from bench.proc_stats import ProcessWatch

MAX_P99_MS = 500.0
DEFAULT_RATES = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)

# Offers `rate` for the step and returns (seconds measured, index of its first turn).
RunStep = Callable[[float], Awaitable[tuple[float, int]]]


@dataclass
class Step:
    rate: float
    seconds: float
    rows: list[ChannelFigures]
    cpu_ms_per_message: dict[str, float]  # gateways (with their workers), rasa, actions, …
    machine_busy_share: float

    @property
    def overall(self) -> ChannelFigures:
        return self.rows[-1]

    @property
    def sustained(self) -> bool:
        p99 = self.overall.p99_ms
        return self.overall.errors == 0 and p99 is not None and p99 <= MAX_P99_MS


def parse_rates(text: str) -> list[float]:
    """ "10,20,30" -> [10.0, 20.0, 30.0], rising and positive (else ValueError)."""
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(r <= 0 for r in rates) or rates != sorted(set(rates)):
        raise ValueError(f"steps must be rising positive rates: {text!r}")
    return rates


async def search(
    rates: list[float],
    run_step: RunStep,
    turns: Callable[[int], list[Turn]],
    watch: ProcessWatch,
    say: Callable[[str], None],
) -> list[Step]:
    """Run the steps in order until one is not sustained; print each step's row as it ends.

    `turns(first)`: the turns sent from index `first` on (those of one step).
    """
    steps: list[Step] = []
    for rate in rates:
        watch.begin_cpu()
        seconds, first = await run_step(rate)
        watch.finish()
        rows = figures(turns(first), seconds)
        step = Step(
            rate,
            seconds,
            rows,
            cpu_ms_per_message(watch, rows[-1].answered),
            watch.machine_busy_share,
        )
        steps.append(step)
        say(header())
        say(step_row(step))
        if not step.sustained:
            break
    return steps


def header() -> str:
    return (
        f"  {'offered':>8} {'answered':>9} {'msg/s':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'ack p99':>7} {'errors':>6}  {'CPU ms/msg: gateways':>20} {'workers':>7} "
        f"{'rasa':>5} {'actions':>7} {'pg':>5}  {'machine':>7}"
    )


def step_row(step: Step) -> str:
    row, cpu = step.overall, step.cpu_ms_per_message

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    verdict = "sustained" if step.sustained else "NOT sustained"
    return (
        f"  {step.rate:>6g}/s {row.answered:>9} {row.throughput:>6.1f} {ms(row.p50_ms):>7} "
        f"{ms(row.p99_ms):>7} {ms(row.ack_p99_ms):>7} {row.errors:>6}  "
        f"{cpu['gateways']:>20.1f} {cpu['workers']:>7.1f} {cpu['rasa']:>5.1f} "
        f"{cpu['actions']:>7.1f} "
        f"{cpu['postgres']:>5.1f}  {step.machine_busy_share * 100:>6.0f} %  {verdict}"
    )


def verdict(steps: list[Step]) -> str:
    held = [s.rate for s in steps if s.sustained]
    if not held:
        return f"No step was sustained (p99 <= {MAX_P99_MS:.0f} ms, 0 errors)."
    stopped = f"; {steps[-1].rate:g}/s was not" if not steps[-1].sustained else ""
    return (
        f"Highest sustained mixed rate: {max(held):g} messages/s "
        f"(p99 <= {MAX_P99_MS:.0f} ms, 0 errors){stopped}."
    )
