"""The reports' figures of the phone calls and emails reps logged (channels `phone`, `email`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Direction
from bot.store.models import InteractionChannel, LoggedInteraction
from handoff.reports.sql import day_of

if TYPE_CHECKING:
    from handoff.reports.figures import ReportRange


class LoggedFigures(BaseModel):
    """Calls or emails reps logged in the range, by channel (`phone`, `email`)."""

    channel: str
    inbound: int  # the customer called or wrote
    outbound: int  # a rep called or wrote to the customer
    per_day: dict[date, int]


async def logged_figures(session: AsyncSession, r: ReportRange) -> list[LoggedFigures]:
    """Calls and emails logged in the range (those of the report's channel, if it is one)."""
    channels = list(InteractionChannel)
    if r.channel is not None:
        if not isinstance(r.channel, InteractionChannel):
            return []
        channels = [r.channel]
    day = day_of(LoggedInteraction.occurred_at).label("day")
    rows = await session.execute(
        select(LoggedInteraction.channel, LoggedInteraction.direction, day, func.count())
        .where(
            LoggedInteraction.occurred_at >= r.since,
            LoggedInteraction.occurred_at < r.until,
            LoggedInteraction.channel.in_(channels),
        )
        .group_by(LoggedInteraction.channel, LoggedInteraction.direction, day)
    )
    figures = {
        c: LoggedFigures(channel=c.value, inbound=0, outbound=0, per_day={}) for c in channels
    }
    for channel, direction, d, n in rows:
        item = figures[InteractionChannel(channel)]
        if direction == Direction.INBOUND:
            item.inbound += int(n)
        else:
            item.outbound += int(n)
        when = date.fromisoformat(d)
        item.per_day[when] = item.per_day.get(when, 0) + int(n)
    return [figures[c] for c in channels]
