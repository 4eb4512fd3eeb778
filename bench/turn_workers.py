"""Turn worker processes (`caricom worker`) beside a gateway that only stores and acknowledges.

With `TURNS_IN_WORKERS=true` a gateway stores each vendor webhook (SMS, WhatsApp, Telegram) and
answers it at once; worker processes claim the pending messages from the store and run their
turns. Benchmarks start both modes side by side when the gateway has the `worker` command, and
the mode of today (turns in the gateway's own event loop) when it has not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer

from bot.assistant_model import PROJECT_ROOT

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
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pids(self) -> dict[str, int]:
        return {f"worker {n}": p.pid for n, p in enumerate(self.processes, start=1)}

    def start(self) -> TurnWorkers:
        for number in range(1, self.count + 1):
            with (self.workdir / f"worker-{number}.log").open("ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "gateway.cli", WORKER_COMMAND],
                        cwd=PROJECT_ROOT,
                        env={**os.environ, **self.env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        return self

    def check_alive(self) -> None:
        """Raise with the log's tail if a worker has ended (a bench must not wait for it)."""
        for number, process in enumerate(self.processes, start=1):
            if process.poll() is not None:
                log = (self.workdir / f"worker-{number}.log").read_text(errors="replace")
                raise RuntimeError(f"worker {number} ended ({process.returncode}):\n{log[-3000:]}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()


@contextmanager
def running_workers(count: int, env: Mapping[str, str], workdir: Path) -> Iterator[TurnWorkers]:
    """Started workers (none when `count` is 0), stopped on the way out."""
    workers = TurnWorkers(count, env, workdir)
    try:
        yield workers.start()
    finally:
        workers.stop()
