"""The backlog of turns as the gateway reports it in `/metrics`, sampled during a run.

`caricom_turns_waiting` (customer messages stored and not yet routed) and
`caricom_turn_oldest_waiting_seconds` come with turn worker processes; a gateway without them
reports neither, and the peaks stay unknown (None) rather than zero.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

WAITING = "caricom_turns_waiting"
OLDEST = "caricom_turn_oldest_waiting_seconds"
SAMPLE_EVERY = 0.5  # seconds; a scrape reads the store and costs the gateway CPU


def gauge_value(exposition: str, name: str) -> float | None:
    """The value of gauge `name` in Prometheus' text format, summed over its labels."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    ]
    return sum(values) if values else None


@dataclass
class QueueGauges:
    gateway_url: str
    peak_waiting: float | None = None
    peak_oldest_seconds: float | None = None
    samples: int = field(default=0)

    async def sample_until_cancelled(self) -> None:
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=5) as client:
            while True:
                try:
                    response = await client.get("/metrics")
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 200:
                    self._note(response.text)
                    if self.peak_waiting is None:
                        return  # not reported: no scrapes to weigh on the figures measured
                await asyncio.sleep(SAMPLE_EVERY)

    def _note(self, exposition: str) -> None:
        self.samples += 1
        waiting, oldest = gauge_value(exposition, WAITING), gauge_value(exposition, OLDEST)
        if waiting is not None:
            self.peak_waiting = max(self.peak_waiting or 0.0, waiting)
        if oldest is not None:
            self.peak_oldest_seconds = max(self.peak_oldest_seconds or 0.0, oldest)

    def peaks(self) -> str:
        if self.peak_waiting is None:
            return "-"
        return f"{self.peak_waiting:.0f} / {self.peak_oldest_seconds or 0.0:.1f} s"
