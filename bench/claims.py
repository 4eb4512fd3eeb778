"""Claim throughput: reps taking the next conversation at once from a long queue (PostgreSQL).

`python -m bench.claims` (or `make bench`): a scratch database on the local PostgreSQL is
created, migrated and seeded with queued conversations; concurrent reps each take the next one
until the queue is empty. Reports claims per second, p50/p99 latency of one claim (a whole
transaction: lock, state change, audit event, handoff record, commit) and double claims, which
must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.stats import Summary
from bot.store import migrate
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationState,
    Priority,
    Rep,
    Role,
    utcnow,
)
from handoff.passwords import hash_password
from handoff.queue import claim_next

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
P99_TARGET_MS = 50.0


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(sessions: async_sessionmaker[AsyncSession], *, reps: int, queued: int) -> list[Rep]:
    """`reps` reps and `queued` conversations waiting in tier 1, priorities and ages mixed."""
    now = utcnow()
    priorities = list(Priority)
    async with sessions() as session, session.begin():
        password_hash = await hash_password(uuid.uuid4().hex)
        session.add_all(
            Rep(
                username=f"rep{i}",
                display_name=f"Rep {i}",
                role=Role.REP,
                password_hash=password_hash,
            )
            for i in range(reps)
        )
        contact_ids = list(
            await session.scalars(
                insert(Contact).returning(Contact.id),
                [{"display_name": f"Customer {i}"} for i in range(queued)],
            )
        )
        rows = []
        for i, contact_id in enumerate(contact_ids):
            priority = priorities[i % len(priorities)]
            requested = now - timedelta(seconds=queued - i)
            rows.append(
                {
                    "contact_id": contact_id,
                    "channel": "webchat",
                    "address": f"bench-{i}",
                    "state": ConversationState.QUEUED,
                    "escalated": True,
                    "escalation_reason": "customer_request",
                    "priority": priority,
                    "priority_rank": priority.rank,
                    "tier": 1,
                    "handoff_requested_at": requested,
                    "due_at": requested + timedelta(hours=24),
                }
            )
        await session.execute(insert(Conversation), rows)
    async with sessions() as session:
        await session.execute(text("ANALYZE"))
        return list(await session.scalars(select(Rep).order_by(Rep.id)))


async def measure(url: str, *, reps: int, queued: int) -> tuple[Summary, int, int]:
    """Run the claimers; return the latency summary, claims made and double claims seen."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        people = await seed(sessions, reps=reps, queued=queued)

        async def warm() -> None:  # open the pool's connections before the clock starts
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(warm() for _ in people))
        gc.collect()
        gc.freeze()  # as the gateway does once started (gateway/app.py)
        latencies: list[float] = []
        taken: list[int] = []

        async def rep_works(rep: Rep) -> None:
            while True:
                started = time.perf_counter()
                async with sessions() as session:
                    conversation = await claim_next(session=session, rep=rep, tier=1)
                if conversation is None:
                    return
                latencies.append((time.perf_counter() - started) * 1000)
                taken.append(conversation.id)

        wall = time.perf_counter()
        await asyncio.gather(*(rep_works(rep) for rep in people))
        wall = time.perf_counter() - wall
        async with sessions() as session:
            per_conversation = (
                select(AuditEvent.conversation_id)
                .where(AuditEvent.to_state == ConversationState.ASSIGNED)
                .group_by(AuditEvent.conversation_id)
                .having(func.count() > 1)
                .subquery()
            )
            doubled = int(
                await session.scalar(select(func.count()).select_from(per_conversation)) or 0
            )
        doubled += len(taken) - len(set(taken))
        summary = Summary(f"{reps} reps, {queued} queued", latencies, wall)
        return summary, len(taken), doubled
    finally:
        await engine.dispose()


def run(*, reps: int = 20, queued: int = 2000) -> list[str]:
    """Report lines for `make bench`."""
    try:
        with scratch_database() as url:
            summary, claims, doubled = asyncio.run(measure(url, reps=reps, queued=queued))
    except psycopg.OperationalError as error:
        return [f"  skipped: PostgreSQL is not reachable at {ADMIN_URL} ({error})"]
    verdict = "meets" if summary.p99 <= P99_TARGET_MS else "MISSES"
    return [
        summary.row(),
        f"  claims: {claims} of {queued}; double claims: {doubled}; "
        f"p99 {verdict} the {P99_TARGET_MS:.0f} ms target",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="Claim throughput on PostgreSQL")
    parser.add_argument("--reps", type=int, default=20, help="concurrent reps")
    parser.add_argument("--queued", type=int, default=2000, help="conversations in the queue")
    args = parser.parse_args()
    lines = run(reps=args.reps, queued=args.queued)
    print(f"\nClaim next from the queue ({platform.node()}, PostgreSQL, SKIP LOCKED)")
    print("\n".join(lines))
    if any("double claims: 0;" not in line for line in lines if "double claims" in line):
        raise SystemExit(1)  # a conversation owned twice is a defect, not a slow result


if __name__ == "__main__":
    main()
