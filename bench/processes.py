"""The processes a benchmark measures: Rasa + action server, and the gateway as in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.net import free_port, wait_for_http
from bench.rasa_stack import RasaStack
from bot.assistant_model import PROJECT_ROOT
from bot.store import migrate

# What every benchmarked gateway runs with, besides its store, Rasa and vendors.
BENCH_GATEWAY_ENV = {
    "LOG_LEVEL": "WARNING",
    "ENVIRONMENT": "development",
    # Benchmark customers write far faster than a person; the per-sender limit would
    # refuse them (as it should a flood) and the turns measured would never be answered.
    "RATE_LIMIT_PER_MINUTE": "1000000",
    "RATE_LIMIT_BURST": "1000000",
    # All of them come from one address, and each counts its replies.
    "WEBCHAT_ADDRESS_PER_MINUTE": "1000000",
    "WEBCHAT_ADDRESS_BURST": "1000000",
    "PRIVACY_NOTICE": "",
    # Open around the clock, as the tests' gateways and turn workers are: a run at night must
    # measure the same turns as one by day.
    "BUSINESS_HOURS_FILE": "",
}


@dataclass(frozen=True)
class RunningGateway:
    url: str
    pid: int
    env: dict[str, str]  # its whole configuration (turn workers take the same)


@contextmanager
def rasa_stack(workdir: Path) -> Iterator[RasaStack]:
    print("Starting the Rasa server and action server…", file=sys.stderr)
    stack = RasaStack(workdir=workdir).start()
    try:
        yield stack
    finally:
        stack.stop()


@contextmanager
def gateway_process(
    workdir: Path,
    *,
    rasa_url: str,
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[RunningGateway]:
    """A uvicorn gateway process on `database_url` (default: its own SQLite store)."""
    database_url = database_url or f"sqlite:///{workdir / 'gateway.db'}"
    migrate.upgrade(database_url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RASA_URL": rasa_url,
        **BENCH_GATEWAY_ENV,
        **(extra_env or {}),
    }
    log = (workdir / "gateway.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        ],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{url}/readyz", timeout=60):
            raise RuntimeError((workdir / "gateway.log").read_text()[-3000:])
        yield RunningGateway(url, process.pid, env)
    finally:
        process.terminate()
        process.wait(timeout=15)
