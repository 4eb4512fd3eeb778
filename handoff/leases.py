"""Job leases: a background job runs in one gateway instance at a time, through the store.

One `job_leases` row per job. An instance takes the lease with a conditional UPDATE
(`… SET holder = me, lease_until = now + ttl WHERE name = job AND (lease_until < now OR
holder = me)`); the row count says whether it won. This is the same on SQLite and PostgreSQL,
needs no session-level lock held for the job's duration (PostgreSQL advisory locks would, and
SQLite has none), and the row shows who runs the job. A holder that dies simply stops
renewing: another instance takes over when the lease runs out.

Leases also schedule: a job that should run at most daily takes its lease for a day and does
not give it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import JobLease


async def take_lease(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    job: str,
    holder: str,
    now: datetime,
    ttl: timedelta,
    renew: bool = True,
) -> bool:
    """Take or renew the lease on `job` until `now + ttl`; False when another holder has it.

    With `renew=False` even the holder waits for the lease to run out (a schedule: "at most
    once per `ttl`").
    """
    free = [JobLease.lease_until.is_(None), JobLease.lease_until <= now]
    if renew:
        free.append(JobLease.holder == holder)
    for _ in range(2):
        async with session_factory() as session, session.begin():
            result = await session.execute(
                update(JobLease)
                .where(JobLease.name == job, or_(*free))
                .values(holder=holder, lease_until=now + ttl, last_run_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if await session.scalar(select(JobLease.name).where(JobLease.name == job)):
                return False  # the row exists and someone else holds it
        try:
            # The job's first run anywhere: create its row. If two instances race here, the
            # primary key lets one insert; both then go round the conditional UPDATE again.
            async with session_factory() as session, session.begin():
                session.add(JobLease(name=job, holder=None, lease_until=None))
        except IntegrityError:
            pass
    return False


async def give_up_lease(
    session_factory: async_sessionmaker[AsyncSession], *, job: str, holder: str
) -> None:
    """Let another instance take `job` at once (on a clean shutdown)."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(JobLease)
            .where(JobLease.name == job, JobLease.holder == holder)
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )
