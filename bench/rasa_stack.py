"""The real Rasa server and action server, as tests and benchmarks start them.

Both serve the project's trained model (or a chosen one, `model`), bound to loopback, with the
HTTP API off as in production (`enable_api` turns it on, for a benchmark timing NLU alone).
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.net import free_port, wait_for_http
from bot.assistant_model import PROJECT_ROOT, ensure_model, rasa_environment, rasa_executable

STARTUP_SECONDS = 180


@dataclass
class RasaStack:
    """A Rasa server on `rasa_url` with its action server, tracker store in `workdir`."""

    workdir: Path
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    # Extra environment of both processes (RASA_CHANNEL_TOKEN, …).
    environment: dict[str, str] = field(default_factory=dict)
    # The tracker_store section of endpoints.yml; None: SQLite in `workdir`.
    tracker_store: str | None = None
    # The model served; None: the project's trained one (`ensure_model`).
    model: Path | None = None
    # Rasa's HTTP API (POST /model/parse, …), off as in production.
    enable_api: bool = False
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self) -> RasaStack:
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n'
            + (
                self.tracker_store
                or f"tracker_store:\n  type: SQL\n  dialect: sqlite\n"
                f"  db: {self.workdir / 'tracker.db'}\n"
            )
        )
        self._spawn(
            "actions",
            [
                str(rasa_executable()), "run", "actions",
                "--port", str(self.actions_port), "--actions", "actions",
            ],
        )  # fmt: skip
        self.start_rasa()
        if not wait_for_http(f"http://127.0.0.1:{self.actions_port}/health", timeout=30):
            self.stop()
            raise RuntimeError(f"the action server did not start; logs:\n{self.logs()}")
        return self

    def start_rasa(self) -> None:
        """Start the Rasa server (again, after `kill_rasa`) and wait until it answers."""
        model = self.model or ensure_model(quiet=True)
        self._spawn(
            "rasa",
            [
                str(rasa_executable()), "run", "--model", str(model),
                *(["--enable-api"] if self.enable_api else []),
                "--port", str(self.rasa_port), "--interface", "127.0.0.1",
                "--credentials", str(PROJECT_ROOT / "credentials.yml"),
                "--endpoints", str(self.workdir / "endpoints.yml"),
            ],
        )  # fmt: skip
        if not wait_for_http(f"{self.rasa_url}/webhooks/gateway/", timeout=STARTUP_SECONDS):
            self.stop()
            raise RuntimeError(f"Rasa did not start; logs:\n{self.logs()}")

    def kill_rasa(self) -> None:
        """SIGKILL the Rasa server: turns in progress are cut off, the port goes dead."""
        process = self._processes.pop("rasa")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self._processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**rasa_environment(), "SANIC_HOST": "127.0.0.1", **self.environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pids(self) -> dict[str, int]:
        """The running processes' ids by name ("rasa", "actions")."""
        return {name: process.pid for name, process in self._processes.items()}

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self._processes.values():
            process.terminate()
        for process in self._processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
