"""Export and reports at scale: 100,000 conversations in a scratch store.

`python -m bench.export [--conversations N] [--postgres]` (also part of `make bench`): seeds a
scratch SQLite file (and, with --postgres, a scratch database on the local PostgreSQL) by bulk
inserts, a third of the conversations handed to a person with a wrap-up and a rating; then
- exports CSV and JSON Lines through the CLI in a child process each, for records per second
  and the child's peak resident memory (ru_maxrss), and through the export code in this process
  under tracemalloc, for the peak of Python allocations;
- times `GET /api/reports` and `GET /console/reports` (30 days, all channels) in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.stats import Summary
from bot.messages import Channel, Direction, SenderKind
from bot.store import migrate
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    Contact,
    Conversation,
    ConversationState,
    FaqFeedback,
    Handoff,
    Message,
    Priority,
    Rating,
    RatingStatus,
    Rep,
    Role,
    WrapUp,
    utcnow,
)
from handoff.export import ExportFormat, encode, records
from handoff.passwords import hash_password

CHUNK = 5000
PASSWORD = "bench password 1234"  # noqa: S105 (a scratch database's only rep)
CHANNELS = list(Channel)
REASONS = ["customer_request", "complaint", "payment_dispute", "repeated_fallback"]


async def seed(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    """`n` conversations over the last 30 days, two messages each; every third handed off."""
    now = utcnow()
    async with sessions() as session, session.begin():
        password_hash = await hash_password(PASSWORD)
        session.add(
            Rep(
                username="sue",
                display_name="Sue",
                role=Role.SUPERVISOR,
                password_hash=password_hash,
            )
        )
        session.add_all(
            Rep(
                username=f"rep{i}",
                display_name=f"Rep {i}",
                role=Role.REP,
                password_hash=password_hash,
            )
            for i in range(10)
        )
    for first in range(0, n, CHUNK):
        count = min(CHUNK, n - first)
        async with sessions() as session, session.begin():
            await _seed_chunk(session, first, count, now)


async def _seed_chunk(session: AsyncSession, first: int, count: int, now: Any) -> None:
    numbers = range(first, first + count)
    when = {i: now - timedelta(minutes=(i * 37) % (30 * 24 * 60)) for i in numbers}
    contact_ids = list(
        await session.scalars(
            insert(Contact).returning(Contact.id),
            [{"display_name": f"Customer {i}", "created_at": when[i]} for i in numbers],
        )
    )
    handed = {i for i in numbers if i % 3 == 0}
    conversation_ids = list(
        await session.scalars(
            insert(Conversation).returning(Conversation.id),
            [
                {
                    "contact_id": contact_ids[k],
                    "channel": CHANNELS[i % 4],
                    "address": f"bench-{i}",
                    "state": ConversationState.RESOLVED if i in handed else ConversationState.BOT,
                    "nature_of_inquiry": "track_order",
                    "created_at": when[i],
                    "updated_at": when[i],
                    "last_message_at": when[i] + timedelta(seconds=2),
                }
                for k, i in enumerate(numbers)
            ],
        )
    )
    by_number = dict(zip(numbers, conversation_ids, strict=True))
    await session.execute(
        insert(Message),
        [
            {
                "conversation_id": by_number[i],
                "channel": CHANNELS[i % 4],
                "direction": direction,
                "sender_kind": kind,
                "text": "where is my order" if kind == SenderKind.CUSTOMER else "Open My Orders.",
                "created_at": when[i] + timedelta(seconds=offset),
            }
            for i in numbers
            for offset, direction, kind in (
                (0, Direction.INBOUND, SenderKind.CUSTOMER),
                (1, Direction.OUTBOUND, SenderKind.BOT),
            )
        ],
    )
    await session.execute(
        insert(FaqFeedback),
        [
            {
                "conversation_id": by_number[i],
                "intent": "track_order",
                "helpful": i % 5 != 0,
                "created_at": when[i],
            }
            for i in numbers
            if i % 7 == 0
        ],
    )
    if not handed:
        return
    ordered = sorted(handed)
    handoff_ids = list(
        await session.scalars(
            insert(Handoff).returning(Handoff.id),
            [
                {
                    "conversation_id": by_number[i],
                    "requested_at": when[i],
                    "reason": REASONS[i % 4],
                    "priority": Priority.NORMAL,
                    "due_at": when[i] + timedelta(hours=24),
                    "at_risk_after": when[i] + timedelta(hours=18),
                    "first_response_at": when[i] + timedelta(minutes=(i * 13) % 2000),
                    "first_response_rep_id": 2 + i % 10,
                    "resolved_at": when[i] + timedelta(hours=35),
                }
                for i in ordered
            ],
        )
    )
    wrap_ids = list(
        await session.scalars(
            insert(WrapUp).returning(WrapUp.id),
            [
                {
                    "handoff_id": handoff_ids[k],
                    "conversation_id": by_number[i],
                    "rep_id": 2 + i % 10,
                    "nature_of_inquiry": "track_order",
                    "actions_taken": "Checked the courier's tracking and told the customer.",
                    "follow_up_required": i % 9 == 0,
                    "follow_up_due": (when[i] + timedelta(days=3)).date() if i % 9 == 0 else None,
                    "follow_up_owner_id": 2 + i % 10 if i % 9 == 0 else None,
                    "created_at": when[i] + timedelta(hours=35),
                }
                for k, i in enumerate(ordered)
            ],
        )
    )
    await session.execute(
        insert(Rating),
        [
            {
                "conversation_id": by_number[i],
                "wrap_up_id": wrap_ids[k],
                "rep_id": 2 + i % 10,
                "status": RatingStatus.RATED,
                "score": 1 + i % 5,
                "asked_at": when[i] + timedelta(hours=35),
                "answered_at": when[i] + timedelta(hours=36),
            }
            for k, i in enumerate(ordered)
        ],
    )


# The child reports its own high-water mark: ru_maxrss from wait4 would include the pages the
# child inherited from this (large) process at fork, which Linux keeps across exec.
_REPORT_PEAK = """
import atexit, re, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)
    sys.stderr.write(f"peak_rss_kib={peak}\\n")
atexit.register(report)
sys.argv = ["gateway.cli", *sys.argv[1:]]
runpy.run_module("gateway.cli", run_name="__main__")
"""


def export_in_child(url: str, export_format: str, out: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB, bytes written) of `python -m gateway.cli export` run alone."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-c", _REPORT_PEAK, "export", "--format", export_format]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--out", str(out)], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    peak = re.search(r"peak_rss_kib=(\d+)", result.stderr)
    if result.returncode != 0 or peak is None:
        raise RuntimeError(f"export failed: {result.stderr[-2000:]}")
    return elapsed, int(peak.group(1)), out.stat().st_size


async def export_in_process(
    sessions: async_sessionmaker[AsyncSession], export_format: ExportFormat
) -> tuple[int, float, int]:
    """(records, seconds, tracemalloc peak bytes) for the export written nowhere."""
    tracemalloc.start()
    started = time.perf_counter()
    count = 0

    async def counted() -> Any:
        nonlocal count
        async for record in records(sessions):
            count += 1
            yield record

    async for _ in encode(export_format, counted()):
        pass
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, elapsed, peak


async def time_reports(url: str, rounds: int = 5) -> list[Summary]:
    from bot.settings import Settings
    from gateway.app import create_app

    settings = Settings(_env_file=None, DATABASE_URL=url, ENVIRONMENT="test", LOG_LEVEL="WARNING")  # type: ignore[call-arg]
    app = create_app(settings)
    api = app.other_asgi_app
    services = api.state.services
    summaries = []
    try:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post(
                "/api/auth/login", json={"username": "sue", "password": PASSWORD}
            )
            bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
            form = await http.get("/console/login")
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await http.post(
                "/console/login", data={"username": "sue", "password": PASSWORD, "csrf_token": csrf}
            )
            for label, path, headers in (
                ("GET /api/reports (30 days)", "/api/reports", bearer),
                ("GET /console/reports (30 days)", "/console/reports", {}),
            ):
                latencies = []
                wall = time.perf_counter()
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = await http.get(path, headers=headers)
                    latencies.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text[:300]
                summaries.append(Summary(label, latencies, time.perf_counter() - wall))
    finally:
        services.desk.close()
        await services.engine.dispose()
    return summaries


async def measure(url: str, conversations: int, workdir: Path) -> list[str]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    lines = []
    try:
        started = time.perf_counter()
        await seed(sessions, conversations)
        async with sessions() as session:
            await session.execute(text("ANALYZE"))
        lines.append(
            f"  seeded {conversations:,} conversations in {time.perf_counter() - started:.1f} s"
        )
        for export_format in ExportFormat:
            count, seconds, peak = await export_in_process(sessions, export_format)
            out = workdir / f"export.{export_format.value}"
            child_seconds, rss_kib, size = await asyncio.to_thread(
                export_in_child, url, export_format.value, out
            )
            lines.append(
                f"  export {export_format.value:<5} in process: {count / seconds:8,.0f} records/s"
                f" under tracemalloc (slows it), Python allocations peak {peak / 2**20:5.1f} MiB"
            )
            rate, rss, mib = count / child_seconds, rss_kib / 1024, size / 2**20
            lines.append(
                f"  export {export_format.value:<5} CLI child:  {rate:8,.0f} records/s"
                f" (with start-up), peak RSS {rss:5.1f} MiB, file {mib:5.1f} MiB"
            )
        lines.extend(s.row() for s in await time_reports(url))
    finally:
        await engine.dispose()
    return lines


def run(*, conversations: int = 100_000, postgres: bool = False) -> list[str]:
    """Report lines for `make bench`."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="cc-bench-export-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.db'}"
        migrate.upgrade(url)
        lines.append("SQLite")
        lines.extend(asyncio.run(measure(url, conversations, workdir)))
        if postgres:
            import psycopg

            from bench.claims import ADMIN_URL, scratch_database

            lines.append("PostgreSQL")
            try:
                with scratch_database() as pg_url:
                    lines.extend(asyncio.run(measure(pg_url, conversations, workdir)))
            except psycopg.OperationalError as error:
                lines.append(f"  skipped: PostgreSQL is not reachable at {ADMIN_URL} ({error})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Export and reports at scale")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also on the local PostgreSQL")
    args = parser.parse_args()
    lines = run(conversations=args.conversations, postgres=args.postgres)
    print(f"\nExport and reports, {args.conversations:,} conversations ({platform.node()})")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
