"""Latency and throughput summaries."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Summary:
    label: str
    latencies_ms: list[float]
    wall_seconds: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0

    def row(self) -> str:
        return (
            f"  {self.label:<34} n={len(self.latencies_ms):>5}  p50={self.p50:7.1f} ms  "
            f"p99={self.p99:7.1f} ms  {self.per_second:7.1f}/s"
        )
