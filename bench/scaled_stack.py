"""The scaled setup (`make run-scaled`) on scratch resources of its own, for the load test.

A fresh PostgreSQL database for the gateways' store and one for Rasa's tracker store, a Redis
database with a key prefix of the run's own, the real Rasa server with
`deploy/endpoints.scaled.yml` (tracker store PostgreSQL, lock store Redis) and its action
server, and gateway processes sharing the store and Redis. Everything is removed afterwards,
so a load test never touches the data of `make run-scaled` or of the tests.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import redis.asyncio as redis
from psycopg import sql
from sqlalchemy.engine import make_url

from bot.assistant_model import PROJECT_ROOT, ensure_model, rasa_environment, rasa_executable
from bot.store import migrate
from tests.support.net import free_port

SCALED_ENDPOINTS = PROJECT_ROOT / "deploy" / "endpoints.scaled.yml"
# Rasa's lock store keys: `key_prefix` of deploy/endpoints.scaled.yml, then Rasa's own "lock:".
RASA_LOCK_KEYS = "caricom:lock:*"


@dataclass
class ScratchData:
    """Scratch PostgreSQL databases (the store, Rasa's trackers) and a Redis key prefix, all of
    this run's own."""

    admin_url: str  # a PostgreSQL URL whose user may create databases
    redis_url: str
    tag: str = field(default_factory=lambda: f"cc_load_{uuid.uuid4().hex[:10]}")
    with_rasa_database: bool = True  # False: the store alone (Rasa keeps its own trackers)

    @property
    def store_database(self) -> str:
        return self.tag

    @property
    def rasa_database(self) -> str:
        return f"{self.tag}_rasa"

    @property
    def redis_prefix(self) -> str:
        return self.tag.replace("_", "-")

    @property
    def databases(self) -> list[str]:
        return [self.store_database] + ([self.rasa_database] if self.with_rasa_database else [])

    @property
    def store_url(self) -> str:
        return make_url(self.admin_url).set(database=self.store_database).render_as_string(False)

    def create(self) -> None:
        """Create the databases and bring the store's schema to the current migration."""
        with self._admin() as admin:
            for name in self.databases:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        migrate.upgrade(self.store_url)

    def drop(self) -> None:
        with self._admin() as admin:
            for name in self.databases:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    def checkpoints(self) -> int:
        """Checkpoints the server has run: each stalls commits, others' included, for a while.

        Read before and after a run, so a latency spike can be put down to the shared server
        (tests that drop databases force checkpoints) rather than to the gateways.
        """
        with self._admin() as admin:
            row = admin.execute(
                "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
            ).fetchone()
        return int(str(row[0])) if row else 0

    def usage(self) -> dict[str, dict[str, int]]:
        """Size (bytes) and open connections of each database now."""
        found: dict[str, dict[str, int]] = {}
        with self._admin() as admin:
            for name in self.databases:
                row = admin.execute(
                    "SELECT pg_database_size(%s),"
                    " (SELECT count(*) FROM pg_stat_activity WHERE datname = %s)",
                    (name, name),
                ).fetchone()
                assert row is not None
                found[name] = {"bytes": int(str(row[0])), "connections": int(str(row[1]))}
        return found

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        url = make_url(self.admin_url).set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(False), autocommit=True, connect_timeout=5)

    async def check_redis(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def clear_redis(self) -> int:
        """Delete this run's keys (the gateways' prefix, Rasa's locks if its); return how many."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{self.redis_prefix}:*")]
            if self.with_rasa_database:  # Rasa's lock store is this run's too
                keys += [k async for k in client.scan_iter(match=RASA_LOCK_KEYS)]
            if keys:
                await client.delete(*keys)
            return len(keys)
        finally:
            await client.aclose()

    def rasa_env(self, actions_url: str) -> dict[str, str]:
        """The variables deploy/endpoints.scaled.yml reads (as the Makefile's run-scaled sets)."""
        database = make_url(self.admin_url)
        cache = urlsplit(self.redis_url)
        return {
            "ACTION_ENDPOINT_URL": actions_url,
            "RASA_TRACKER_DB_HOST": database.host or "127.0.0.1",
            "RASA_TRACKER_DB_PORT": str(database.port or 5432),
            "RASA_TRACKER_DB": self.rasa_database,
            "RASA_TRACKER_DB_USER": database.username or "postgres",
            "RASA_TRACKER_DB_PASSWORD": database.password or "",
            "RASA_LOCK_REDIS_HOST": cache.hostname or "127.0.0.1",
            "RASA_LOCK_REDIS_PORT": str(cache.port or 6379),
            "RASA_LOCK_REDIS_DB": cache.path.strip("/") or "0",
        }

    def gateway_env(self, rasa_url: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.store_url,
            "RASA_URL": rasa_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
        }


@dataclass
class ScaledRasa:
    """The Rasa server on deploy/endpoints.scaled.yml and its action server."""

    workdir: Path
    env: Mapping[str, str]
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    async def start(self, *, timeout: float) -> None:
        """Start both and wait until the model is loaded and the action server answers."""
        model = ensure_model(quiet=True)
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
                "--endpoints", str(SCALED_ENDPOINTS),
            ],
        )  # fmt: skip
        ready = await _wait_for(
            [f"{self.rasa_url}/webhooks/gateway/", f"http://127.0.0.1:{self.actions_port}/health"],
            timeout=timeout,
            alive=lambda: all(p.poll() is None for p in self.processes.values()),
        )
        if not ready:
            raise RuntimeError(f"Rasa did not start; logs:\n{self.logs()}")

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.workdir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env={**rasa_environment(), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n" + (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
            for name in self.processes
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def _wait_for(urls: list[str], *, timeout: float, alive: Callable[[], bool]) -> bool:
    """Poll every URL until each answers 200; False on timeout or when a process ended."""
    pending = list(urls)
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while pending and asyncio.get_running_loop().time() < deadline:
            if not alive():
                return False
            try:
                if (await client.get(pending[0])).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    return not pending
