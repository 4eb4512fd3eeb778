"""The gateway (or a turn worker) as its own process, as in production: to kill it, restart it,
weigh it.

The in-process gateway (`tests.support.gateway`) is quicker and lets a test poke its services,
but it cannot be killed with SIGKILL or have its memory read apart from the test's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bot.assistant_model import PROJECT_ROOT
from tests.support.net import free_port, wait_for_http

STARTUP_SECONDS = 60


def resident_mib(pid: int) -> float:
    """A process's resident memory (VmRSS) in MiB, read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for process {pid}")


@dataclass
class GatewayProcess:
    """One gateway instance on a fixed loopback port; `env` is its whole configuration."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the gateway is not running"
        return self.process.pid

    def start(self) -> GatewayProcess:
        """Start (or start again, on the same port) and wait until `/readyz` answers 200."""
        # No privacy notice unless a test asks for one: tests count the replies they get.
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "PRIVACY_NOTICE": "",
            "BUSINESS_HOURS_FILE": "",
            **self.env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if not wait_for_http(self.ready_url, timeout=STARTUP_SECONDS):
            self.stop()
            raise RuntimeError(f"{type(self).__name__} did not start:\n{self.logs()}")
        return self

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    @property
    def ready_url(self) -> str:
        return f"{self.url}/readyz"

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, leases and in-flight work are left as they are."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """A clean stop (SIGTERM), killed if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


class WorkerProcess(GatewayProcess):
    """A turn worker (`caricom worker`), ready once its counters are served on `port`."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway.cli", "worker", "--metrics-port", str(self.port)]

    @property
    def ready_url(self) -> str:
        return f"{self.url}/metrics"
