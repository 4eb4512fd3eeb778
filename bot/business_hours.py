"""Business-hour arithmetic: when a team is open, and how much of its time lies between instants.

A team's week is a list of opening periods per weekday in its own time zone, less its public
holidays. Response windows are business durations: "4 business hours" from Friday 16:00 in
Kingston ends Monday 10:00. Everything here is pure (no clock, no store) so it can be checked
exhaustively; instants are aware datetimes and come back in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
# A calendar whose every day is closed (holidays for ever) would make the search run without
# end; no real calendar closes for ten years.
_SEARCH_DAYS = 3660

Period = tuple[int, int]  # minutes after local midnight: [start, end), end may be 1440


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("business-hour arithmetic needs aware datetimes")


@dataclass(frozen=True)
class BusinessHours:
    """One team's opening hours: a time zone, periods per weekday (Monday first), holidays."""

    timezone: ZoneInfo
    weekly: tuple[tuple[Period, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly hours need seven days, Monday first")
        for periods in self.weekly:
            last_end = -1
            for start, end in sorted(periods):
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(
                        f"an opening period must run forwards within a day: {start}-{end}"
                    )
                if start < last_end:
                    raise ValueError("opening periods of one day overlap")
                last_end = end
        if not any(self.weekly):
            raise ValueError("a team must be open on at least one weekday")

    @classmethod
    def always_open(cls) -> BusinessHours:
        """Every hour counts: business time is plain elapsed time (a 24/7 team)."""
        return cls(ZoneInfo("UTC"), tuple(((0, MINUTES_PER_DAY),) for _ in range(7)))

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening periods as UTC instants (none on a holiday)."""
        if day in self.holidays:
            return []
        return [
            (self._instant(day, start), self._instant(day, end))
            for start, end in sorted(self.weekly[day.weekday()])
        ]

    def _instant(self, day: date, minutes: int) -> datetime:
        # Wall-clock time in the team's zone; a time skipped by a DST change resolves to the
        # instant just after it (zoneinfo's fold=0), which keeps periods in order.
        if minutes == MINUTES_PER_DAY:
            day, minutes = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.timezone)
        return local.astimezone(UTC)

    def _periods_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening periods that end after `at`, in order."""
        # From the day before: a period of the previous local day can still be running.
        day = at.astimezone(self.timezone).date() - timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            for start, end in self.periods_on(day + timedelta(days=offset)):
                if end > at:
                    yield start, end
        raise ValueError("no opening hours found within ten years")

    def is_open(self, at: datetime) -> bool:
        _check_aware(at)
        start, _ = next(self._periods_from(at))
        return start <= at

    def next_open(self, at: datetime) -> datetime:
        """`at` when the team is open then, else when it next opens."""
        _check_aware(at)
        start, _ = next(self._periods_from(at))
        return max(start, at).astimezone(UTC)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of business time has passed since `start`."""
        _check_aware(start)
        if duration <= timedelta(0):
            return start.astimezone(UTC)
        remaining = duration
        for period_start, period_end in self._periods_from(start):
            begin = max(period_start, start)
            available = period_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _periods_from raises when it runs out")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end` (zero when `end` is not after `start`)."""
        _check_aware(start)
        _check_aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        for period_start, period_end in self._periods_from(start):
            if period_start >= end:
                break
            total += min(period_end, end) - max(period_start, start)
        return total


@dataclass(frozen=True)
class TeamHours:
    """Business hours by team name; a team not listed keeps the default team's hours."""

    teams: Mapping[str, BusinessHours]
    default_team: str = "general"

    def __post_init__(self) -> None:
        if self.default_team not in self.teams:
            raise ValueError(f"the default team {self.default_team!r} has no business hours")

    @classmethod
    def always_open(cls) -> TeamHours:
        return cls({"general": BusinessHours.always_open()})

    def for_team(self, team: str | None) -> BusinessHours:
        return self.teams.get(team or self.default_team) or self.teams[self.default_team]


def parse_period(text: str) -> Period:
    """'08:00-18:00' as minutes after midnight; '24:00' ends a period at midnight."""
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start, end = _minutes(start_text), _minutes(end_text)
    except ValueError:
        raise ValueError(f"opening hours look like 08:00-18:00, not {text!r}") from None
    if start >= end:
        raise ValueError(f"opening hours must end after they start: {text!r}")
    return start, end


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if not (0 <= int(minutes) < 60 and 0 <= value <= MINUTES_PER_DAY):
        raise ValueError(text)
    return value


def weekly_from_names(hours: Mapping[str, Sequence[str]]) -> tuple[tuple[Period, ...], ...]:
    """Weekday names ('monday' …) with period texts, as the seven-day tuple."""
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    unknown = set(hours) - set(names)
    if unknown:
        raise ValueError(f"unknown weekday(s): {', '.join(sorted(unknown))}")
    return tuple(tuple(parse_period(p) for p in hours.get(name) or ()) for name in names)
