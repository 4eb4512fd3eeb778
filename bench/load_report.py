"""The load test's figures: per channel and overall, and per process; as a table and as JSON."""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from bench.load_traffic import CHANNELS, Turn
from bench.proc_stats import ProcessWatch
from bench.stats import percentile


@dataclass
class ChannelFigures:
    channel: str
    sent: int
    answered: int
    throughput: float  # answered messages a second over the measured period
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    ack_p50_ms: float | None  # webhook acknowledgement (web chat: the emit)
    ack_p99_ms: float | None
    not_2xx: int  # acknowledgements that were not 2xx, and web chat `error` events
    server_errors: int  # of which 5xx
    transport_errors: int  # the request itself failed (connection, timeout)
    no_reply: int  # accepted, never answered
    duplicates: int  # the same reply delivered more than once in a turn

    @property
    def errors(self) -> int:
        return self.not_2xx + self.transport_errors + self.no_reply + self.duplicates

    @classmethod
    def of(cls, channel: str, turns: list[Turn], seconds: float) -> ChannelFigures:
        latencies = [t.latency_ms for t in turns if t.latency_ms is not None]
        acks = [t.ack_ms for t in turns if t.ack_ms is not None]
        statuses = [t.status for t in turns]
        return cls(
            channel=channel,
            sent=len(turns),
            answered=len(latencies),
            throughput=len(latencies) / seconds if seconds else 0.0,
            p50_ms=statistics.median(latencies) if latencies else None,
            p99_ms=percentile(latencies, 99) if latencies else None,
            max_ms=max(latencies) if latencies else None,
            ack_p50_ms=statistics.median(acks) if acks else None,
            ack_p99_ms=percentile(acks, 99) if acks else None,
            not_2xx=sum(1 for s in statuses if s is not None and not 200 <= s < 300)
            + sum(1 for t in turns if t.failure == "refused"),
            server_errors=sum(1 for s in statuses if s is not None and s >= 500),
            transport_errors=sum(1 for t in turns if t.failure is not None and t.status is None),
            no_reply=sum(1 for t in turns if t.failure is None and t.latency_ms is None),
            duplicates=sum(t.duplicates for t in turns),
        )


def figures(turns: list[Turn], seconds: float, *, measured: bool = True) -> list[ChannelFigures]:
    """One row per channel, then the overall row ("all"), of measured turns (or warm-up ones)."""
    chosen = [t for t in turns if t.measured is measured]
    rows = [ChannelFigures.of(c, [t for t in chosen if t.channel == c], seconds) for c in CHANNELS]
    return [*rows, ChannelFigures.of("all", chosen, seconds)]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(rows: list[ChannelFigures]) -> list[str]:
    lines = [
        f"  {'channel':<9} {'sent':>6} {'answered':>8} {'msg/s':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'ack p99':>7}  {'errors':>6}  "
        "(not 2xx / 5xx / transport / no reply / dup)",
    ]
    for row in rows:
        if row.channel == "all":
            lines.append("  " + "-" * 98)
        lines.append(
            f"  {row.channel:<9} {row.sent:>6} {row.answered:>8} {row.throughput:>6.2f} "
            f"{_ms(row.p50_ms):>7} {_ms(row.p99_ms):>7} {_ms(row.max_ms):>7} "
            f"{_ms(row.ack_p99_ms):>7}  {row.errors:>6}  "
            f"({row.not_2xx} / {row.server_errors} / {row.transport_errors} / "
            f"{row.no_reply} / {row.duplicates})"
        )
    return lines


def cpu_groups(watch: ProcessWatch) -> dict[str, list[str]]:
    """The watched processes in the groups a message's cost is told in."""
    groups: dict[str, list[str]] = {"gateways": [], "workers": [], "rasa": [], "actions": []}
    for name in watch.pids:
        if name.startswith("gateway"):
            groups["gateways"].append(name)
        elif name.startswith("worker"):
            groups["workers"].append(name)
        elif name == "rasa server":
            groups["rasa"].append(name)
        elif name == "action server":
            groups["actions"].append(name)
    groups["postgres"] = ["postgres backends"]
    return groups


def cpu_ms_per_message(watch: ProcessWatch, answered: int) -> dict[str, float]:
    return {
        group: sum(watch.cpu_used.get(name, 0.0) for name in names) * 1000 / max(1, answered)
        for group, names in cpu_groups(watch).items()
    }


def process_table(watch: ProcessWatch, seconds: float, answered: int) -> list[str]:
    """Memory and CPU of each process; CPU also in ms per message answered in the period."""
    lines = [
        f"  {'process':<26} {'RSS start':>9} {'peak':>7} {'end':>7} MiB   "
        f"{'CPU, % of one core':>18} {'ms/message':>11}"
    ]

    def cpu(name: str) -> str:
        used = watch.cpu_used.get(name, 0.0)
        share = used / seconds * 100 if seconds else 0.0
        return f"{share:>12.0f} % {used * 1000 / max(1, answered):>11.1f}"

    for name in watch.pids:
        lines.append(
            f"  {name:<26} {watch.start_mib.get(name, 0):>9.0f} "
            f"{watch.peak_mib.get(name, 0):>7.0f} "
            f"{watch.end_mib.get(name, 0):>7.0f}       {cpu(name)}"
        )
    for name in watch.others:
        lines.append(f"  {name:<26} {'':>9} {'':>7} {'':>7}       {cpu(name)}")
    return lines


def print_report(
    rate: float,
    rows: list[ChannelFigures],
    watch: ProcessWatch,
    seconds: float,
    extra: dict[str, Any],
) -> None:
    """The report at the end of a run, for a person to read."""
    print()
    print(
        f"Turn latency: webhook POST (web chat: emit) -> first reply at the vendor stand-in "
        f"(web chat: bot_uttered). {rate:g} messages/s offered for {seconds:.0f} s, "
        f"{extra['customers']} customers, 2 gateways."
    )
    print("\n".join(table(rows)))
    print()
    print(
        f"Processes (CPU over the measured {seconds:.0f} s; the machine was "
        f"{watch.machine_busy_share * 100:.0f} % busy over all {os.cpu_count()} cores, "
        "other users' work included)"
    )
    print("\n".join(process_table(watch, seconds, rows[-1].answered)))
    cpu = cpu_ms_per_message(watch, rows[-1].answered)
    print(
        "  CPU per answered message: "
        + ", ".join(f"{group} {ms:.1f} ms" for group, ms in cpu.items())
        + " (gateways: both together)"
    )
    print()
    callbacks = ", ".join(f"{k} {v}" for k, v in extra["twilio_status_callbacks"].items())
    print(
        f"Twilio status callbacks: {callbacks or 'none'}; late reply parts "
        f"{extra['late_reply_parts']}; stray replies {extra['stray_replies']}; worst generator "
        f"lag {extra['generator_lag_ms_max']:.0f} ms; warm-up errors {extra['warmup_errors']}; "
        f"error lines in gateway logs {sum(extra['gateway_log_error_lines'].values())}"
    )
    print(
        f"PostgreSQL checkpoints during the measured period: "
        f"{extra['postgres_checkpoints_during_run']} (the server is shared; each one stalls "
        "commits for a moment)"
    )
    for name, usage in extra["databases"].items():
        messages = max(1, usage["customer_messages"])
        print(
            f"Database {name}: grew {usage['grew_bytes'] / 2**20:.1f} MiB for {messages} "
            f"customer messages ({usage['grew_bytes'] / messages / 1024:.1f} KiB each); "
            f"connections open at the end of the load: {usage['connections_at_end_of_load']}"
        )
    verdict = "no errors" if rows[-1].errors == 0 else f"{rows[-1].errors} ERRORS"
    print(f"Result: {verdict}.")


def as_json(
    *,
    rows: list[ChannelFigures],
    watch: ProcessWatch,
    seconds: float,
    settings: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "settings": settings,
        "channels": {r.channel: {**asdict(r), "errors": r.errors} for r in rows},
        "processes": {
            name: {
                "rss_mib_start": _rounded(watch.start_mib.get(name)),
                "rss_mib_peak": _rounded(watch.peak_mib.get(name)),
                "rss_mib_end": _rounded(watch.end_mib.get(name)),
                "cpu_seconds": round(watch.cpu_used.get(name, 0.0), 2),
                "cpu_share_of_one_core": (
                    round(watch.cpu_used.get(name, 0.0) / seconds, 3) if seconds else None
                ),
            }
            for name in [*watch.pids, *watch.others]
        },
        "machine_busy_share_of_all_cores": round(watch.machine_busy_share, 3),
        **extra,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
