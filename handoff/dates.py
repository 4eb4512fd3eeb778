"""The dates reports and the export accept: a range the store can hold and a person can mean.

Python's `date` goes to 9999-12-31, but the day after it (an exclusive end) does not exist, and
the databases' timestamp ranges differ: `end=9999-12-31` crashed with an OverflowError (500).
Any real question about this support desk falls well inside 2000..2100.
"""

from __future__ import annotations

from datetime import date

from handoff.errors import Invalid

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_DAYS = 366


def check_range(start: date | None, end: date | None) -> None:
    """Raise `Invalid` (422) for a day outside FIRST_DAY..LAST_DAY, an inverted range, or a
    range longer than MAX_DAYS days (both ends inclusive)."""
    for name, day in (("start", start), ("end", end)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid(
                f"The {name} date must be between {FIRST_DAY.isoformat()} and "
                f"{LAST_DAY.isoformat()}."
            )
    if start is not None and end is not None:
        if start > end:
            raise Invalid("The start date is after the end date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise Invalid(f"Choose a range of at most {MAX_DAYS} days.")
