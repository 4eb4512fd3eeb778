"""SQL expressions the reports need that SQLite and PostgreSQL spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class day_of(FunctionElement[str]):  # lower case: it reads as the SQL function it is
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD'."""

    type = String()
    inherit_cache = True


@compiles(day_of)
def _day_of_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    # SQLite stores the gateway's timestamps as UTC text; date() reads the day from it.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element: day_of, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"to_char(({inner}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class seconds_between(FunctionElement[float]):
    """`later - earlier` in seconds (NULL when either is NULL)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


def seconds(later: Any, earlier: Any) -> ColumnElement[float]:
    return seconds_between(later, earlier)
