"""Auto-assignment throughput: 2,000 waiting conversations offered to 50 reps (PostgreSQL).

`python -m bench.assignment` (or `make bench`, or `python -m bench --only assignment`): a
scratch database on the local PostgreSQL is created, migrated and seeded with 50 available reps
in two teams and two languages and 2,000 waiting conversations (web chat and SMS, both teams,
both languages); two assigners (as two gateway instances would) pass at once until
nothing more can be assigned. Reports decisions per second and p50/p99 of one decision (choosing
the rep and the assignment's transaction: take the conversation, lock the rep, count their open
conversations, assign, commit), double owners (must be 0) and reps past a limit (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.claims import ADMIN_URL, scratch_database
from bench.stats import Summary
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationState,
    Presence,
    Priority,
    Rep,
    RepLanguage,
    RepTeam,
    Role,
    utcnow,
)
from handoff.auto_assign import AutoAssigner, Candidate, Offer, Waiting
from handoff.capacity import Capacity, ChannelKind
from handoff.passwords import hash_password
from handoff.routing import DEFAULT_PATH, RoutingTable

TEAMS = ("general", "payments")
LANGUAGES = ("en", "es")
# Room for every waiting conversation: 50 reps, about 12 per team and language, 25 of each kind.
LIMITS = Capacity(chat=25, messaging=25)
P99_TARGET_MS = 50.0


class TimedAssigner(AutoAssigner):
    """An assigner that records how long each decision takes."""

    latencies: list[float]

    async def _decide(
        self, batch: list[Waiting], candidates: list[Candidate], spoken: set[str], now: datetime
    ) -> tuple[int | None, Offer | None]:
        started = time.perf_counter()
        try:
            return await super()._decide(batch, candidates, spoken, now)
        finally:
            self.latencies.append((time.perf_counter() - started) * 1000)


async def seed(sessions: async_sessionmaker[AsyncSession], *, reps: int, waiting: int) -> None:
    now = utcnow()
    priorities = list(Priority)
    cells = [(team, language) for team in TEAMS for language in LANGUAGES]
    async with sessions() as session, session.begin():
        password_hash = await hash_password(uuid.uuid4().hex)
        rep_ids = list(
            await session.scalars(
                insert(Rep).returning(Rep.id),
                [
                    {
                        "username": f"rep{i}",
                        "display_name": f"Rep {i}",
                        "role": Role.REP,
                        "password_hash": password_hash,
                        "active": True,
                        "presence": Presence.AVAILABLE,
                        "away_auto": False,
                        "last_seen_at": now,
                        "failed_logins": 0,
                        "created_at": now,
                    }
                    for i in range(reps)
                ],
            )
        )
        for i, rep_id in enumerate(rep_ids):
            team, language = cells[i % len(cells)]
            session.add(RepTeam(rep_id=rep_id, team=team))
            session.add(RepLanguage(rep_id=rep_id, language=language))
        contact_ids = list(
            await session.scalars(
                insert(Contact).returning(Contact.id),
                [{"display_name": f"Customer {i}"} for i in range(waiting)],
            )
        )
        rows = []
        for i, contact_id in enumerate(contact_ids):
            priority = priorities[i % len(priorities)]
            requested = now - timedelta(seconds=waiting - i)
            team, language = cells[(i // 2) % len(cells)]
            rows.append(
                {
                    "contact_id": contact_id,
                    "channel": "webchat" if i % 2 else "sms",
                    "address": f"bench-{i}",
                    "state": ConversationState.QUEUED,
                    "escalated": True,
                    "escalation_reason": "customer_request",
                    "priority": priority,
                    "priority_rank": priority.rank,
                    "tier": 1,
                    "team": team,
                    "language": language,
                    "handoff_requested_at": requested,
                    "due_at": requested + timedelta(hours=24),
                }
            )
        await session.execute(insert(Conversation), rows)
    async with sessions() as session:
        await session.execute(text("ANALYZE"))


async def measure(
    url: str, *, reps: int, waiting: int, assigners: int
) -> tuple[Summary, int, int, int]:
    """Run the assigners; the decision latencies, assignments, double owners, reps over a limit."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    table = RoutingTable.load(DEFAULT_PATH)
    try:
        await seed(sessions, reps=reps, waiting=waiting)
        latencies: list[float] = []
        gc.collect()
        gc.freeze()  # as the gateway does once started (gateway/app.py)

        async def assigner_works() -> int:
            assigner = TimedAssigner(sessions, table, capacity=LIMITS)
            assigner.latencies = latencies
            made = 0
            while True:
                report = await assigner.assign_waiting()
                made += len(report.offers)
                if not report.offers:
                    return made

        wall = time.perf_counter()
        made = sum(await asyncio.gather(*(assigner_works() for _ in range(assigners))))
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
            held: Counter[tuple[int, ChannelKind]] = Counter()
            for owner, channel in await session.execute(
                select(Conversation.assigned_rep_id, Conversation.channel).where(
                    Conversation.state == ConversationState.ASSIGNED
                )
            ):
                held[(int(owner or 0), ChannelKind.of(channel))] += 1
        over = sum(1 for (_, kind), count in held.items() if count > LIMITS.limit(kind))
        summary = Summary(f"{reps} reps, {waiting} waiting, {assigners} assigners", latencies, wall)
        return summary, made, doubled, over
    finally:
        await engine.dispose()


def run(*, reps: int = 50, waiting: int = 2000, assigners: int = 2) -> list[str]:
    """Report lines for `make bench`."""
    try:
        with scratch_database() as url:
            summary, made, doubled, over = asyncio.run(
                measure(url, reps=reps, waiting=waiting, assigners=assigners)
            )
    except psycopg.OperationalError as error:
        return [f"  skipped: PostgreSQL is not reachable at {ADMIN_URL} ({error})"]
    verdict = "meets" if summary.p99 <= P99_TARGET_MS else "MISSES"
    return [
        summary.row(),
        f"  assigned: {made} of {waiting} ({made / summary.wall_seconds:.1f}/s); "
        f"double owners: {doubled}; reps past a limit: {over}; "
        f"p99 {verdict} the {P99_TARGET_MS:.0f} ms target",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="Auto-assignment throughput on PostgreSQL")
    parser.add_argument("--reps", type=int, default=50, help="available reps")
    parser.add_argument("--waiting", type=int, default=2000, help="conversations waiting")
    parser.add_argument("--assigners", type=int, default=2, help="assigners passing at once")
    args = parser.parse_args()
    lines = run(reps=args.reps, waiting=args.waiting, assigners=args.assigners)
    print(f"\nAuto-assignment ({platform.node()}, PostgreSQL)")
    print("\n".join(lines))
    if any("double owners: 0;" not in line for line in lines if "double owners" in line):
        raise SystemExit(1)  # a conversation owned twice is a defect, not a slow result


if __name__ == "__main__":
    main()
