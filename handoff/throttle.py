"""Slowing down repeated failed logins.

Every failure counts twice: against the username and against the client address. For a rep
the username's count lives in the store (`Rep.failed_logins`, `Rep.login_blocked_until`), so it
holds across gateway instances; for a username no rep has, in this process's memory. Known and
unknown names are answered alike (the same counts, the same blocks, the same order of checks):
a throttle that blocked one kind sooner would tell which usernames exist. After
`FREE_FAILURES` failures every further one blocks logins for twice as long as the one before,
from `FIRST_BLOCK` up to `MAX_BLOCK`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Rep
from handoff.errors import TooManyAttempts

FREE_FAILURES = 3
FIRST_BLOCK = timedelta(seconds=30)
MAX_BLOCK = timedelta(minutes=15)
# A block this long past is forgiven: the count starts again.
FORGIVE_AFTER = timedelta(hours=1)


def block_for(failures: int) -> timedelta | None:
    """How long logins are refused after `failures` failures in a row (None: not at all)."""
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 16)
    block: timedelta = min(FIRST_BLOCK * 2**doublings, MAX_BLOCK)
    return block


def _seconds_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def refuse_if_blocked(rep: Rep, now: datetime) -> None:
    """Raise `TooManyAttempts` while `rep`'s logins are blocked."""
    if rep.login_blocked_until is not None and rep.login_blocked_until > now:
        raise TooManyAttempts(_seconds_left(rep.login_blocked_until, now))


async def record_failure(session: AsyncSession, rep: Rep, now: datetime) -> int:
    """Count a failed login for `rep` (caller commits); return the failures in a row."""
    forgiven = rep.login_blocked_until is not None and now - rep.login_blocked_until > FORGIVE_AFTER
    # Counted in SQL, so concurrent failures on several instances all count.
    failures = int(
        await session.scalar(
            update(Rep)
            .where(Rep.id == rep.id)
            .values(failed_logins=1 if forgiven else Rep.failed_logins + 1)
            .returning(Rep.failed_logins)
            .execution_options(synchronize_session=False)
        )
        or 0
    )
    block = block_for(failures)
    await session.execute(
        update(Rep)
        .where(Rep.id == rep.id)
        .values(login_blocked_until=now + block if block is not None else None)
        .execution_options(synchronize_session=False)
    )
    return failures


def record_success(rep: Rep) -> None:
    rep.failed_logins = 0
    rep.login_blocked_until = None


class MemoryThrottle:
    """Failed logins per key (a client address, or a username no rep has), in memory."""

    def __init__(self, *, max_addresses: int = 10_000) -> None:
        self._max = max_addresses
        # address → (failures, blocked until, last failure)
        self._entries: OrderedDict[str, tuple[int, datetime | None, datetime]] = OrderedDict()

    def refuse_if_blocked(self, address: str, now: datetime) -> None:
        entry = self._entries.get(address)
        if entry is not None and entry[1] is not None and entry[1] > now:
            raise TooManyAttempts(_seconds_left(entry[1], now))

    def record_failure(self, address: str, now: datetime) -> None:
        failures, _blocked, last = self._entries.pop(address, (0, None, now))
        if now - last > FORGIVE_AFTER:
            failures = 0
        failures += 1
        block = block_for(failures)
        self._entries[address] = (failures, now + block if block else None, now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)  # the address idle longest

    def let_block_end(self, address: str, now: datetime) -> None:
        """End `address`'s current block (the count stays), as time passing would."""
        entry = self._entries.get(address)
        if entry is not None:
            self._entries[address] = (entry[0], now, entry[2])


@dataclass
class LoginThrottles:
    """What this process counts itself: failures per client address and per unknown username."""

    addresses: MemoryThrottle = field(default_factory=MemoryThrottle)
    unknown_names: MemoryThrottle = field(default_factory=MemoryThrottle)
