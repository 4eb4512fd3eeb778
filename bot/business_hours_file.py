"""The business hours file (`business_hours.yml`) the support team edits: per team, a time
zone, weekly hours and public holidays. Read once at start-up; a mistake is a clear error
naming the team and the field, never a silent 24/7 clock."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml  # type: ignore[import-untyped]

from bot.business_hours import BusinessHours, TeamHours, weekly_from_names

# A relative BUSINESS_HOURS_FILE is read from the project's folder, where the shipped file
# lives, whatever directory the gateway or the `caricom` command was started from.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class BusinessHoursError(ValueError):
    """The business hours file cannot be used as it is."""


def load_team_hours(path: str | Path) -> TeamHours:
    """Read the business hours file at `path` (relative: to the project's folder)."""
    file = PROJECT_ROOT / path
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BusinessHoursError(f"the business hours file {file} does not exist") from None
    except yaml.YAMLError as error:
        raise BusinessHoursError(f"{file} is not valid YAML: {error}") from None
    return team_hours_from(document, source=str(file))


def team_hours_from(document: Any, *, source: str = "business hours") -> TeamHours:
    """Build the teams' hours from the parsed file."""
    if not isinstance(document, dict) or not isinstance(document.get("teams"), dict):
        raise BusinessHoursError(f"{source}: expected a mapping with 'teams'")
    default_team = str(document.get("default_team", "general"))
    teams = {}
    for name, spec in document["teams"].items():
        try:
            teams[str(name)] = _team(spec)
        except (ValueError, TypeError, KeyError) as error:
            raise BusinessHoursError(f"{source}: team {name!r}: {error}") from None
    try:
        return TeamHours(teams, default_team=default_team)
    except ValueError as error:
        raise BusinessHoursError(f"{source}: {error}") from None


def _team(spec: Any) -> BusinessHours:
    if not isinstance(spec, dict):
        raise ValueError("expected timezone, hours and holidays")
    try:
        zone = ZoneInfo(str(spec["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {spec.get('timezone')!r}") from None
    hours = spec.get("hours")
    if not isinstance(hours, dict):
        raise ValueError("'hours' must map weekday names to lists like ['08:00-18:00']")
    weekly = weekly_from_names({str(day): list(periods or []) for day, periods in hours.items()})
    holidays = frozenset(_holiday(entry) for entry in spec.get("holidays") or [])
    return BusinessHours(zone, weekly, holidays)


def _holiday(entry: Any) -> date:
    value = entry.get("date") if isinstance(entry, dict) else entry
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"a holiday date looks like 2026-12-25, not {value!r}") from None
