"""Business-hour arithmetic: weekends, holidays, days with no hours, DST-free and DST zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.business_hours import BusinessHours, TeamHours, parse_period, weekly_from_names
from bot.business_hours_file import BusinessHoursError, load_team_hours, team_hours_from

JAMAICA = ZoneInfo("America/Jamaica")  # UTC-5 all year
TRINIDAD = ZoneInfo("America/Port_of_Spain")  # UTC-4 all year
NEW_YORK = ZoneInfo("America/New_York")  # DST: a 23-hour and a 25-hour day each year

WEEKDAYS_8_TO_18 = {
    day: ["08:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def hours(
    zone: ZoneInfo, holidays: frozenset[date] = frozenset(), **week: list[str]
) -> BusinessHours:
    return BusinessHours(zone, weekly_from_names(week or WEEKDAYS_8_TO_18), holidays)


def local(zone: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


KINGSTON = hours(JAMAICA)


def test_time_inside_one_day_is_plain_elapsed_time() -> None:
    start = local(JAMAICA, "2026-03-03 09:00")  # a Tuesday
    assert KINGSTON.add(start, timedelta(hours=4)) == local(JAMAICA, "2026-03-03 13:00")
    assert KINGSTON.between(start, local(JAMAICA, "2026-03-03 13:30")) == timedelta(hours=4.5)


def test_friday_afternoon_plus_four_hours_ends_on_monday_morning() -> None:
    friday = local(JAMAICA, "2026-03-06 16:00")
    due = KINGSTON.add(friday, timedelta(hours=4))
    assert due == local(JAMAICA, "2026-03-09 10:00")
    assert due.tzinfo == UTC and due == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert KINGSTON.between(friday, due) == timedelta(hours=4)


def test_time_before_opening_and_after_closing_does_not_count() -> None:
    early = local(JAMAICA, "2026-03-03 05:00")
    assert KINGSTON.add(early, timedelta(minutes=30)) == local(JAMAICA, "2026-03-03 08:30")
    late = local(JAMAICA, "2026-03-03 22:00")
    assert KINGSTON.add(late, timedelta(hours=1)) == local(JAMAICA, "2026-03-04 09:00")
    assert KINGSTON.between(late, local(JAMAICA, "2026-03-04 07:59")) == timedelta(0)


def test_a_whole_weekend_counts_nothing() -> None:
    saturday = local(JAMAICA, "2026-03-07 00:00")
    assert KINGSTON.between(saturday, local(JAMAICA, "2026-03-09 08:00")) == timedelta(0)
    assert not KINGSTON.is_open(local(JAMAICA, "2026-03-07 12:00"))
    assert KINGSTON.next_open(saturday) == local(JAMAICA, "2026-03-09 08:00")


def test_holidays_are_skipped_like_weekends() -> None:
    # Good Friday and Easter Monday 2026 around the Easter weekend: Thursday 17:00 + 2 hours
    # is Tuesday 09:00.
    easter = hours(JAMAICA, frozenset({date(2026, 4, 3), date(2026, 4, 6)}))
    thursday = local(JAMAICA, "2026-04-02 17:00")
    assert easter.add(thursday, timedelta(hours=2)) == local(JAMAICA, "2026-04-07 09:00")
    assert easter.between(thursday, local(JAMAICA, "2026-04-07 09:00")) == timedelta(hours=2)
    assert easter.next_open(local(JAMAICA, "2026-04-03 10:00")) == local(
        JAMAICA, "2026-04-07 08:00"
    )


def test_days_with_no_hours_and_split_days() -> None:
    # Open Monday and Wednesday only, with a lunch break on Wednesday.
    odd = hours(TRINIDAD, monday=["09:00-17:00"], wednesday=["09:00-12:00", "13:00-15:00"])
    monday = local(TRINIDAD, "2026-03-02 16:00")
    assert odd.add(monday, timedelta(hours=4)) == local(TRINIDAD, "2026-03-04 12:00")
    assert odd.add(monday, timedelta(hours=5, minutes=30)) == local(TRINIDAD, "2026-03-04 14:30")
    assert not odd.is_open(local(TRINIDAD, "2026-03-04 12:30"))
    assert odd.between(monday, local(TRINIDAD, "2026-03-09 09:00")) == timedelta(hours=6)


def test_port_of_spain_and_kingston_count_the_same_instants_differently() -> None:
    instant = datetime(2026, 3, 3, 12, 30, tzinfo=UTC)  # 07:30 in Kingston, 08:30 in Port of Spain
    assert not KINGSTON.is_open(instant)
    assert hours(TRINIDAD).is_open(instant)


def test_across_a_dst_change_a_business_day_is_still_ten_hours() -> None:
    new_york = hours(NEW_YORK)
    # Spring forward on Sunday 8 March 2026, fall back on Sunday 1 November 2026.
    for friday, monday in (("2026-03-06", "2026-03-09"), ("2026-10-30", "2026-11-02")):
        start = local(NEW_YORK, f"{friday} 08:00")
        assert new_york.between(start, local(NEW_YORK, f"{monday} 18:00")) == timedelta(hours=20)
        assert new_york.add(start, timedelta(hours=12)) == local(NEW_YORK, f"{monday} 10:00")


def test_a_period_that_runs_to_midnight_and_a_team_that_never_closes() -> None:
    evening = hours(JAMAICA, tuesday=["18:00-24:00"], wednesday=["00:00-02:00"])
    start = local(JAMAICA, "2026-03-03 23:00")
    assert evening.add(start, timedelta(hours=2)) == local(JAMAICA, "2026-03-04 01:00")
    always = BusinessHours.always_open()
    instant = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)
    assert always.add(instant, timedelta(hours=30)) == instant + timedelta(hours=30)


def test_bad_hours_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="08:00-18:00"):
        parse_period("8 to 6")
    with pytest.raises(ValueError, match="end after they start"):
        parse_period("18:00-08:00")
    with pytest.raises(ValueError, match="unknown weekday"):
        weekly_from_names({"funday": ["08:00-18:00"]})
    with pytest.raises(ValueError, match="at least one weekday"):
        BusinessHours(JAMAICA, tuple(() for _ in range(7)))
    with pytest.raises(ValueError, match="overlap"):
        hours(JAMAICA, monday=["08:00-12:00", "11:00-13:00"])
    with pytest.raises(ValueError, match="aware"):
        KINGSTON.add(datetime(2026, 3, 3, 9, 0), timedelta(hours=1))


# Properties, over instants spread across two years (weekends, holidays, nights) ----------------

HOLIDAYS = frozenset({date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 6), date(2026, 12, 25)})
CALENDARS = {
    "kingston": hours(JAMAICA, HOLIDAYS),
    "port_of_spain": hours(TRINIDAD, HOLIDAYS, monday=["09:00-17:00"], friday=["07:30-12:00"]),
    "new_york": hours(NEW_YORK, HOLIDAYS),
}
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=60 * 200).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=instants, duration=durations)
def test_adding_then_measuring_gives_the_duration_back(
    name: str, start: datetime, duration: timedelta
) -> None:
    calendar = CALENDARS[name]
    due = calendar.add(start, duration)
    assert due >= start
    assert calendar.between(start, due) == duration
    if duration > timedelta(0):
        # The due instant is inside opening hours or at the end of a period.
        assert calendar.is_open(due - timedelta(microseconds=1))


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), a=instants, b=instants, c=instants)
def test_business_time_adds_up_and_never_exceeds_elapsed_time(
    name: str, a: datetime, b: datetime, c: datetime
) -> None:
    calendar = CALENDARS[name]
    a, b, c = sorted((a, b, c))
    assert calendar.between(a, c) == calendar.between(a, b) + calendar.between(b, c)
    assert timedelta(0) <= calendar.between(a, c) <= c - a


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), at=instants)
def test_nothing_counts_on_a_holiday_or_weekend(name: str, at: datetime) -> None:
    calendar = CALENDARS[name]
    day = at.astimezone(calendar.timezone).date()
    if day in HOLIDAYS or not calendar.weekly[day.weekday()]:
        assert not calendar.is_open(at)
    assert calendar.next_open(at) >= at


# The business hours file -----------------------------------------------------------------------


def test_the_shipped_file_has_kingston_hours_and_every_jamaican_holiday_of_2026_and_2027() -> None:
    teams = load_team_hours("business_hours.yml")
    general = teams.for_team("general")
    assert general.timezone.key == "America/Jamaica"
    assert general.weekly[0] == ((8 * 60, 18 * 60),) and general.weekly[5] == ()
    for year in (2026, 2027):
        holidays = sorted(d for d in general.holidays if d.year == year)
        assert len(holidays) == 10, year  # New Year … Boxing Day, each listed explicitly
    assert date(2026, 8, 6) in general.holidays  # Independence Day
    assert date(2027, 3, 26) in general.holidays  # Good Friday 2027
    # A team the file does not name (a routing table's team) keeps the default's hours.
    assert teams.for_team("payments") is general
    assert teams.for_team(None) is general


def test_a_broken_file_names_the_team_and_the_field() -> None:
    with pytest.raises(BusinessHoursError, match=r"'general'.*unknown timezone"):
        team_hours_from({"teams": {"general": {"timezone": "Mars/Olympus", "hours": {}}}})
    with pytest.raises(BusinessHoursError, match=r"'payments'.*08:00-18:00"):
        team_hours_from(
            {
                "teams": {
                    "general": {"timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}},
                    "payments": {"timezone": "UTC", "hours": {"monday": ["9-5"]}},
                }
            }
        )
    with pytest.raises(BusinessHoursError, match="holiday date"):
        team_hours_from(
            {
                "teams": {
                    "general": {
                        "timezone": "UTC",
                        "hours": {"monday": ["09:00-17:00"]},
                        "holidays": ["Christmas"],
                    }
                }
            }
        )
    with pytest.raises(BusinessHoursError, match="default team 'general'"):
        team_hours_from(
            {"teams": {"payments": {"timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}}}}
        )
    with pytest.raises(BusinessHoursError, match="does not exist"):
        load_team_hours("/nonexistent/business_hours.yml")


def test_team_hours_fall_back_to_the_default_team() -> None:
    teams = TeamHours({"general": KINGSTON, "payments": hours(TRINIDAD)})
    assert teams.for_team("payments").timezone == TRINIDAD
    assert teams.for_team("technical") is KINGSTON
