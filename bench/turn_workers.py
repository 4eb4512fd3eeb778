"""Turn worker processes (`caricom worker`) beside a gateway that only stores and acknowledges.

With `TURNS_IN_WORKERS=true` a gateway stores each vendor webhook (SMS, WhatsApp, Telegram) and
answers it at once; worker processes claim the pending messages from the store and run their
turns. Benchmarks start both modes side by side when the gateway has the `worker` command, and
the mode without it (turns in the gateway's own event loop) when it has not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer

from tests.support.gateway_process import WorkerProcess

WORKER_COMMAND = "worker"
# What the gateway itself reads to leave vendor webhooks' turns to the workers.
IN_WORKERS_ENV = {"TURNS_IN_WORKERS": "true"}
DEFAULT_WORKERS = 2  # one a core on the 2-core machines these runs were sized on


def workers_supported() -> bool:
    """Whether this gateway has the `caricom worker` command (and so the worker mode)."""
    from gateway.cli import app

    command = typer.main.get_command(app)
    return WORKER_COMMAND in getattr(command, "commands", {})


def worker_counts(requested: int | None) -> list[int]:
    """The modes to measure side by side: 0 (turns in the gateway), then N workers if any.

    `requested` None: N workers when the gateway supports them, else the gateway alone.
    """
    supported = workers_supported()
    if requested is None:
        return [0, DEFAULT_WORKERS] if supported else [0]
    if requested > 0 and not supported:
        raise SystemExit(
            f"--turn-workers {requested}: this gateway has no `caricom {WORKER_COMMAND}` command"
        )
    return [0, requested] if requested > 0 else [0]


def mode_label(workers: int) -> str:
    return f"{workers} worker{'s' if workers != 1 else ''}" if workers else "turns in gateway"


@dataclass
class TurnWorkers:
    """`count` worker processes on the gateway's environment; their logs go to `workdir`."""

    count: int
    env: Mapping[str, str]
    workdir: Path
    processes: list[WorkerProcess] = field(default_factory=list)

    @property
    def pids(self) -> dict[str, int]:
        return {f"worker {n}": p.pid for n, p in enumerate(self.processes, start=1)}

    def start(self) -> TurnWorkers:
        """Start them side by side; back once each serves its counters (it is taking turns)."""
        self.processes = [
            WorkerProcess(env=dict(self.env), log_path=self.workdir / f"worker-{n}.log")
            for n in range(1, self.count + 1)
        ]
        if self.processes:
            with ThreadPoolExecutor(max_workers=len(self.processes)) as pool:
                for started in [pool.submit(p.start) for p in self.processes]:
                    started.result()
        return self

    def check_alive(self) -> None:
        """Raise with the log's tail if a worker has ended (a bench must not wait for it)."""
        for number, worker in enumerate(self.processes, start=1):
            if worker.process is None or worker.process.poll() is not None:
                raise RuntimeError(f"worker {number} ended:\n{worker.logs()}")

    def stop(self) -> None:
        for worker in self.processes:
            worker.stop()
        self.processes = []


@contextmanager
def running_workers(count: int, env: Mapping[str, str], workdir: Path) -> Iterator[TurnWorkers]:
    """Started workers (none when `count` is 0), stopped on the way out."""
    workers = TurnWorkers(count, env, workdir)
    try:
        yield workers.start()
    finally:
        workers.stop()
