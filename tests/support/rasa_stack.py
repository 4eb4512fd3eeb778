"""The real Rasa server and action server, started with the project's trained model."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bot.assistant_model import PROJECT_ROOT, ensure_model, rasa_environment, rasa_executable
from tests.support.net import free_port, wait_for_http

STARTUP_SECONDS = 180


@dataclass
class RasaStack:
    """A Rasa server on `rasa_url` with its action server, tracker store in `workdir`."""

    workdir: Path
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self) -> RasaStack:
        model = ensure_model(quiet=True)
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n'
            f"tracker_store:\n  type: SQL\n  dialect: sqlite\n"
            f"  db: {self.workdir / 'tracker.db'}\n"
        )
        rasa = str(rasa_executable())
        self._spawn(
            "actions",
            [rasa, "run", "actions", "--port", str(self.actions_port), "--actions", "actions"],
        )
        self._spawn(
            "rasa",
            [
                rasa, "run", "--model", str(model), "--port", str(self.rasa_port),
                "--credentials", str(PROJECT_ROOT / "credentials.yml"),
                "--endpoints", str(endpoints),
            ],
        )  # fmt: skip
        ready = wait_for_http(
            f"{self.rasa_url}/webhooks/gateway/", timeout=STARTUP_SECONDS
        ) and wait_for_http(f"http://127.0.0.1:{self.actions_port}/health", timeout=30)
        if not ready:
            self.stop()
            raise RuntimeError(f"Rasa did not start; logs:\n{self.logs()}")
        return self

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=rasa_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
