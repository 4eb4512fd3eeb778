"""The response clock's arithmetic: when each window of a handoff is due, in business time.

Three clocks run on a handoff (README: Business hours, clocks and alerts): the first response
(from the request, target by priority), each next response (from a customer message written
while a person owns the conversation) and the resolution (from the request). All count the
business hours of the handoff's team only. Built once from the settings and the business hours
file by the composition root; the router, the queue and the SLA monitor share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.business_hours import BusinessHours, TeamHours
from bot.policy import ResponseTargets
from bot.settings import setting_default
from bot.store.models import Priority


@dataclass(frozen=True)
class ResponseClock:
    """Due times of a team's response windows, counted in its business hours."""

    hours: TeamHours = field(default_factory=TeamHours.always_open)
    first_response: ResponseTargets = field(default_factory=ResponseTargets.defaults)
    next_response: timedelta = field(
        default_factory=lambda: timedelta(hours=setting_default("SLA_NEXT_RESPONSE_HOURS"))
    )
    resolution: timedelta = field(
        default_factory=lambda: timedelta(hours=setting_default("SLA_RESOLUTION_HOURS"))
    )
    at_risk_fraction: float = field(
        default_factory=lambda: float(setting_default("SLA_AT_RISK_FRACTION"))
    )

    def calendar(self, team: str | None) -> BusinessHours:
        return self.hours.for_team(team)

    def first_response_due(
        self, team: str | None, priority: Priority | None, start: datetime
    ) -> datetime:
        return self.calendar(team).add(start, self.first_response.for_priority(priority))

    def next_response_due(self, team: str | None, start: datetime) -> datetime:
        return self.calendar(team).add(start, self.next_response)

    def resolution_due(self, team: str | None, start: datetime) -> datetime:
        return self.calendar(team).add(start, self.resolution)

    def at_risk_after(self, team: str | None, start: datetime, due: datetime) -> datetime:
        """When `at_risk_fraction` of the window's business time is gone."""
        calendar = self.calendar(team)
        return calendar.add(start, calendar.between(start, due) * self.at_risk_fraction)

    def business_time(self, team: str | None, start: datetime, end: datetime) -> timedelta:
        return self.calendar(team).between(start, end)

    def back_at(self, team: str | None, now: datetime) -> datetime | None:
        """When the team is next open, in its own time zone; None while it is open."""
        calendar = self.calendar(team)
        opens = calendar.next_open(now)
        if opens <= now:
            return None
        return opens.astimezone(calendar.timezone)


def describe_opening(at: datetime) -> str:
    """'Monday 4 January at 08:00 (Jamaica time)': a reopening as customers read it."""
    zone = at.tzinfo
    place = ""
    if isinstance(zone, ZoneInfo) and zone.key != "UTC":
        place = zone.key.rsplit("/", 1)[-1].replace("_", " ")
    when = f"{at:%A} {at.day} {at:%B} at {at:%H:%M}"
    return f"{when} ({place} time)" if place else f"{when} (UTC)"
