"""The reports' figures for a date range and channel, each from one SQL aggregate (GROUP BY).

Definitions (also in the README):
- a conversation counts on a day when the customer wrote in it that day (UTC);
- containment (the old figure, shown for one release): of the conversations the customer wrote
  in during the range, the share with no handoff requested in the range; by language, the same
  per conversation language as it stands now ("undecided" while nothing told it);
- resolved by the assistant (the new figure): per episode, `handoff/reports/resolution.py`;
- handoffs (reasons, first response, windows) are those requested in the range; the first
  response is the first rep reply after the handoff that the channel accepted;
- the clocks (first response, next responses, resolution) are those of handoffs requested in
  the range, in business time, each against its due time: met, missed (answered or resolved
  late, or past due without), open (not yet due), closed (a next-response window the
  resolution ended before it was due, with no reply: not counted either way);
- ratings and FAQ feedback are those given in the range; follow-ups are the ones open now;
- logged calls and emails are those that happened in the range (channels `phone`, `email`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVarTuple

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Channel, Direction, SenderKind
from bot.response_clock import ResponseClock
from bot.store.models import (
    Conversation,
    FaqFeedback,
    Handoff,
    InteractionChannel,
    Message,
    Priority,
    Rating,
    RatingStatus,
    Rep,
    ResponseKind,
    ResponseWindow,
    WrapUp,
)
from handoff.dates import check_range
from handoff.reports.logged import LoggedFigures, logged_figures
from handoff.reports.resolution import AssistantResolution, assistant_resolution
from handoff.reports.sql import day_of, seconds

_Ts = TypeVarTuple("_Ts")
DEFAULT_DAYS = 30


class ReportChannel(enum.StrEnum):
    """What a report can be limited to: a chat channel, or calls or emails reps logged."""

    WEBCHAT = Channel.WEBCHAT.value
    SMS = Channel.SMS.value
    WHATSAPP = Channel.WHATSAPP.value
    TELEGRAM = Channel.TELEGRAM.value
    PHONE = InteractionChannel.PHONE.value
    EMAIL = InteractionChannel.EMAIL.value

    def parsed(self) -> Channel | InteractionChannel:
        chat = {c.value for c in Channel}
        return Channel(self.value) if self.value in chat else InteractionChannel(self.value)


class ReportRange(BaseModel):
    start: date
    end: date  # inclusive
    channel: Channel | InteractionChannel | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def report_range(
    start: date | None,
    end: date | None,
    channel: Channel | InteractionChannel | None,
    *,
    today: date,
) -> ReportRange:
    """The range asked for, the last 30 days by default; 422 when it makes no sense."""
    check_range(start, end)
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    check_range(start, end)
    return ReportRange(start=start, end=end, channel=channel)


class DayCount(BaseModel):
    day: date
    channel: str
    conversations: int


class Containment(BaseModel):
    conversations: int
    handed_off: int
    contained: int
    rate: float | None


class LanguageFigures(BaseModel):
    """Conversations and containment in one language (the conversation's, as it stands)."""

    language: str  # "es", "pap", "und" (could not be told); "undecided": nothing told it yet
    conversations: int
    handed_off: int
    contained: int
    rate: float | None


class Count(BaseModel):
    label: str
    count: int


class FirstResponse(BaseModel):
    target_hours: int
    handoffs: int
    answered: int
    within_target: int
    within_target_rate: float | None  # of the answered
    average_seconds: float | None
    buckets: list[Count]  # answered within 1 h, 1-4 h, 4 h - target, later; and unanswered


class Windows(BaseModel):
    """Handoffs answered within their priority's window."""

    in_window: int
    late: int
    no_reply: int  # past the window, or closed, without a rep reply
    waiting: int  # unanswered, window still open
    rate: float | None  # in_window of those settled (all but waiting)


class ClockFigures(BaseModel):
    """One clock (first response, next response, resolution) against its target."""

    clock: str  # first_response | next_response | resolution
    target: str  # as people read it: "4 business hours"
    count: int
    met: int
    missed: int
    open: int  # not answered or resolved, not yet due
    closed: int  # next-response windows the resolution ended in time, unanswered
    met_rate: float | None  # met of those settled (met + missed)
    average_business_seconds: float | None  # of the answered or resolved


class RatingFigures(BaseModel):
    rep_id: int | None  # None: everyone
    rep: str
    count: int
    average: float | None
    distribution: dict[int, int]  # score 1-5 -> count


class FaqFigures(BaseModel):
    intent: str
    helpful: int
    not_helpful: int


class FollowUpFigures(BaseModel):
    owner_id: int | None
    owner: str
    open: int
    overdue: int


class Reports(BaseModel):
    start: date
    end: date
    channel: str | None
    generated_at: datetime
    conversations_per_day: list[DayCount]
    # The old figure; None once REPORTS_OLD_CONTAINMENT is false (it goes in the next release).
    containment: Containment | None
    assistant_resolution: AssistantResolution
    by_language: list[LanguageFigures]  # most conversations first
    handoff_reasons: list[Count]
    first_response: FirstResponse
    windows: Windows
    clocks: list[ClockFigures]  # first response, next response, resolution
    ratings: list[RatingFigures]  # overall first, then per rep
    faq: list[FaqFigures]
    faq_total: FaqFigures
    follow_ups: list[FollowUpFigures]  # overall first, then per owner
    logged: list[LoggedFigures]  # phone, then email (the one asked for only, with a channel)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _on_channel(column: Any, r: ReportRange) -> ColumnElement[bool]:
    """`column` (a chat channel) is the one asked for; none is, when calls or emails were."""
    return column == r.channel if isinstance(r.channel, Channel) else false()


def _handoffs(r: ReportRange, *columns: Any) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(Handoff)
        .where(Handoff.requested_at >= r.since, Handoff.requested_at < r.until)
    )
    if r.channel is not None:
        query = query.join(Conversation, Conversation.id == Handoff.conversation_id).where(
            _on_channel(Conversation.channel, r)
        )
    return query


def _customer_messages(r: ReportRange, *columns: Any) -> Select[Any]:
    query = select(*columns).where(
        Message.created_at >= r.since,
        Message.created_at < r.until,
        Message.direction == Direction.INBOUND,
        Message.sender_kind == SenderKind.CUSTOMER,
    )
    if r.channel is not None:
        query = query.where(_on_channel(Message.channel, r))
    return query


def _by_conversation_channel(query: Select[*_Ts], model: Any, r: ReportRange) -> Select[*_Ts]:
    if r.channel is None:
        return query
    return query.join(Conversation, Conversation.id == model.conversation_id).where(
        _on_channel(Conversation.channel, r)
    )


async def compute_reports(
    session: AsyncSession,
    r: ReportRange,
    *,
    promise_hours: int,
    now: datetime,
    clock: ResponseClock | None = None,
    come_back: timedelta = timedelta(hours=24),
    old_containment: bool = True,
) -> Reports:
    faq = await _faq(session, r)
    return Reports(
        start=r.start,
        end=r.end,
        channel=str(r.channel) if r.channel else None,
        generated_at=now,
        conversations_per_day=await _per_day(session, r),
        containment=await _containment(session, r) if old_containment else None,
        assistant_resolution=await assistant_resolution(
            session,
            since=r.since,
            until=r.until,
            channel=str(r.channel) if r.channel else None,
            now=now,
            come_back=come_back,
        ),
        by_language=await _by_language(session, r),
        handoff_reasons=await _reasons(session, r),
        first_response=await _first_response(session, r, promise_hours),
        windows=await _windows(session, r, now),
        clocks=await _clocks(session, r, now, clock or ResponseClock()),
        ratings=await _ratings(session, r),
        faq=faq,
        faq_total=FaqFigures(
            intent="all",
            helpful=sum(f.helpful for f in faq),
            not_helpful=sum(f.not_helpful for f in faq),
        ),
        follow_ups=await _follow_ups(session, r, now.date()),
        logged=await logged_figures(session, r),
    )


async def _per_day(session: AsyncSession, r: ReportRange) -> list[DayCount]:
    day = day_of(Message.created_at).label("day")
    rows = await session.execute(
        _customer_messages(
            r, day, Message.channel, func.count(func.distinct(Message.conversation_id))
        )
        .group_by(day, Message.channel)
        .order_by(day, Message.channel)
    )
    return [
        DayCount(day=date.fromisoformat(d), channel=str(ch), conversations=n) for d, ch, n in rows
    ]


async def _containment(session: AsyncSession, r: ReportRange) -> Containment:
    active = int(
        await session.scalar(
            _customer_messages(r, func.count(func.distinct(Message.conversation_id)))
        )
        or 0
    )
    handed_off = int(
        await session.scalar(_handoffs(r, func.count(func.distinct(Handoff.conversation_id)))) or 0
    )
    contained = max(active - handed_off, 0)
    return Containment(
        conversations=active,
        handed_off=handed_off,
        contained=contained,
        rate=_share(contained, active),
    )


UNDECIDED = "undecided"


async def _by_language(session: AsyncSession, r: ReportRange) -> list[LanguageFigures]:
    """Containment per conversation language, defined as the overall one."""
    language = func.coalesce(Conversation.language, UNDECIDED).label("language")
    active_rows = await session.execute(
        _customer_messages(r, language, func.count(func.distinct(Message.conversation_id)))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .group_by(language)
    )
    handed_query = (
        select(language, func.count(func.distinct(Handoff.conversation_id)))
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.requested_at >= r.since, Handoff.requested_at < r.until)
        .group_by(language)
    )
    if r.channel is not None:
        handed_query = handed_query.where(Conversation.channel == r.channel)
    active = {str(code): int(n) for code, n in active_rows}
    handed = {str(code): int(n) for code, n in await session.execute(handed_query)}
    figures = []
    for code in set(active) | set(handed):
        contained = max(active.get(code, 0) - handed.get(code, 0), 0)
        figures.append(
            LanguageFigures(
                language=code,
                conversations=active.get(code, 0),
                handed_off=handed.get(code, 0),
                contained=contained,
                rate=_share(contained, active.get(code, 0)),
            )
        )
    return sorted(figures, key=lambda f: (-f.conversations, f.language))


async def _reasons(session: AsyncSession, r: ReportRange) -> list[Count]:
    reason = func.coalesce(Handoff.reason, "unknown").label("reason")
    n = func.count().label("n")
    rows = await session.execute(
        _handoffs(r, reason, n).group_by(reason).order_by(n.desc(), reason)
    )
    return [Count(label=label, count=count) for label, count in rows]


async def _first_response(
    session: AsyncSession, r: ReportRange, target_hours: int
) -> FirstResponse:
    waited = seconds(Handoff.first_response_at, Handoff.requested_at)
    target = target_hours * 3600
    limits = [(3600, "within 1 h"), (4 * 3600, "1-4 h"), (target, f"4-{target_hours} h")]
    if target <= 4 * 3600:  # a short promise: no middle bucket
        limits = [
            (min(3600, target), f"within {min(1, target_hours)} h"),
            (target, f"up to {target_hours} h"),
        ]
    bucket = case(
        (Handoff.first_response_at.is_(None), "unanswered"),
        *((waited <= limit, label) for limit, label in limits),
        else_=f"over {target_hours} h",
    ).label("bucket")
    rows = dict(
        (label, count)
        for label, count in await session.execute(
            _handoffs(r, bucket, func.count()).group_by(bucket)
        )
    )
    totals = (
        await session.execute(
            _handoffs(
                r,
                func.count(),
                func.count(Handoff.first_response_at),
                func.avg(waited),
                func.sum(case((waited <= target, 1), else_=0)),
            )
        )
    ).one()
    handoffs, answered, average, within = totals
    order = [label for _, label in limits] + [f"over {target_hours} h", "unanswered"]
    return FirstResponse(
        target_hours=target_hours,
        handoffs=int(handoffs or 0),
        answered=int(answered or 0),
        within_target=int(within or 0),
        within_target_rate=_share(int(within or 0), int(answered or 0)),
        average_seconds=round(float(average), 1) if average is not None else None,
        buckets=[Count(label=label, count=int(rows.get(label, 0))) for label in order],
    )


async def _windows(session: AsyncSession, r: ReportRange, now: datetime) -> Windows:
    answered = Handoff.first_response_at.is_not(None)
    status = case(
        (answered & (Handoff.first_response_at <= Handoff.due_at), "in_window"),
        (answered & Handoff.due_at.is_not(None), "late"),
        (answered, "waiting"),  # answered, window not yet known (the monitor adds it)
        (Handoff.resolved_at.is_not(None) | (Handoff.due_at <= now), "no_reply"),
        else_="waiting",
    ).label("status")
    rows = {
        s: int(n)
        for s, n in await session.execute(_handoffs(r, status, func.count()).group_by(status))
    }
    settled = rows.get("in_window", 0) + rows.get("late", 0) + rows.get("no_reply", 0)
    return Windows(
        in_window=rows.get("in_window", 0),
        late=rows.get("late", 0),
        no_reply=rows.get("no_reply", 0),
        waiting=rows.get("waiting", 0),
        rate=_share(rows.get("in_window", 0), settled),
    )


async def _ratings(session: AsyncSession, r: ReportRange) -> list[RatingFigures]:
    query = select(Rating.rep_id, Rating.score, func.count()).where(
        Rating.status == RatingStatus.RATED,
        Rating.answered_at >= r.since,
        Rating.answered_at < r.until,
    )
    query = _by_conversation_channel(query, Rating, r).group_by(Rating.rep_id, Rating.score)
    by_rep: dict[int | None, dict[int, int]] = {None: dict.fromkeys(range(1, 6), 0)}
    for rep_id, score, n in await session.execute(query):
        if score is None:
            continue
        by_rep.setdefault(rep_id, dict.fromkeys(range(1, 6), 0))[score] = int(n)
        by_rep[None][score] += int(n)
    names = await _rep_names(session, {i for i in by_rep if i is not None})
    figures = []
    for who in sorted(by_rep, key=lambda i: (i is not None, names.get(i, ""))):
        distribution = by_rep[who]
        count = sum(distribution.values())
        total = sum(score * n for score, n in distribution.items())
        figures.append(
            RatingFigures(
                rep_id=who,
                rep=names.get(who, "Everyone") if who is not None else "Everyone",
                count=count,
                average=round(total / count, 2) if count else None,
                distribution=distribution,
            )
        )
    return figures


async def _faq(session: AsyncSession, r: ReportRange) -> list[FaqFigures]:
    query = select(FaqFeedback.intent, FaqFeedback.helpful, func.count()).where(
        FaqFeedback.created_at >= r.since, FaqFeedback.created_at < r.until
    )
    query = _by_conversation_channel(query, FaqFeedback, r)
    counts: dict[str, FaqFigures] = {}
    for intent, helpful, n in await session.execute(
        query.group_by(FaqFeedback.intent, FaqFeedback.helpful)
    ):
        item = counts.setdefault(intent, FaqFigures(intent=intent, helpful=0, not_helpful=0))
        if helpful:
            item.helpful = int(n)
        else:
            item.not_helpful = int(n)
    return sorted(counts.values(), key=lambda f: (-(f.helpful + f.not_helpful), f.intent))


async def _follow_ups(session: AsyncSession, r: ReportRange, today: date) -> list[FollowUpFigures]:
    query = select(
        WrapUp.follow_up_owner_id,
        func.count(),
        func.sum(case((WrapUp.follow_up_due < today, 1), else_=0)),
    ).where(WrapUp.follow_up_required.is_(True), WrapUp.follow_up_done_at.is_(None))
    query = _by_conversation_channel(query, WrapUp, r).group_by(WrapUp.follow_up_owner_id)
    rows = [(owner, int(n), int(late or 0)) for owner, n, late in await session.execute(query)]
    names = await _rep_names(session, {o for o, _, _ in rows if o is not None})
    overall = FollowUpFigures(
        owner_id=None,
        owner="Everyone",
        open=sum(n for _, n, _ in rows),
        overdue=sum(late for _, _, late in rows),
    )
    per_owner = [
        FollowUpFigures(
            owner_id=o, owner=names.get(o, "nobody") if o else "nobody", open=n, overdue=late
        )
        for o, n, late in sorted(rows, key=lambda row: names.get(row[0], "") if row[0] else "")
    ]
    return [overall, *per_owner]


async def _rep_names(session: AsyncSession, ids: set[int]) -> dict[int | None, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Rep.id, Rep.display_name).where(Rep.id.in_(ids)))
    return {rep_id: name for rep_id, name in rows}


def _hours(value: float) -> str:
    return f"{value:g} business hour{'' if value == 1 else 's'}"


def _targets(clock: ResponseClock) -> dict[str, str]:
    first = "/".join(
        f"{clock.first_response.for_priority(p).total_seconds() / 3600:g}" for p in Priority
    )
    return {
        "first_response": f"{first} business hours (urgent/high/normal/low)",
        "next_response": _hours(clock.next_response.total_seconds() / 3600),
        "resolution": _hours(clock.resolution.total_seconds() / 3600),
    }


async def _clocks(
    session: AsyncSession, r: ReportRange, now: datetime, clock: ResponseClock
) -> list[ClockFigures]:
    targets = _targets(clock)
    out = []
    for kind in (ResponseKind.FIRST, ResponseKind.NEXT):
        answered = ResponseWindow.answered_at
        status = case(
            (answered.is_not(None) & (answered <= ResponseWindow.due_at), "met"),
            (answered.is_not(None), "missed"),
            (
                Handoff.resolved_at.is_not(None) & (Handoff.resolved_at < ResponseWindow.due_at),
                "closed",
            ),
            (ResponseWindow.due_at <= now, "missed"),
            else_="open",
        ).label("status")
        query = (
            _handoffs(r, status, *_timed(ResponseWindow.business_seconds))
            .join(ResponseWindow, ResponseWindow.handoff_id == Handoff.id)
            .where(ResponseWindow.kind == kind)
            .group_by(status)
        )
        rows = {s: _Tally(*row) for s, *row in await session.execute(query)}
        name = f"{kind}_response"
        out.append(_clock_figures(name, targets[name], rows))
    resolved = Handoff.resolved_at
    status = case(
        (resolved.is_not(None) & (resolved <= Handoff.resolution_due_at), "met"),
        (resolved.is_not(None) & Handoff.resolution_due_at.is_not(None), "missed"),
        (Handoff.resolution_due_at <= now, "missed"),
        else_="open",
    ).label("status")
    rows = {
        s: _Tally(*row)
        for s, *row in await session.execute(
            _handoffs(r, status, *_timed(Handoff.resolution_business_seconds)).group_by(status)
        )
    }
    out.append(_clock_figures("resolution", targets["resolution"], rows))
    return out


@dataclass(frozen=True)
class _Tally:
    count: int
    timed: int  # of them, answered or resolved (with a business time)
    seconds: float | None  # their business time, summed


def _timed(column: Any) -> tuple[Any, ...]:
    return func.count(), func.count(column), func.sum(column)


def _clock_figures(name: str, target: str, rows: dict[str, _Tally]) -> ClockFigures:
    def n(status: str) -> int:
        return int(rows[status].count) if status in rows else 0

    timed = sum(int(t.timed) for t in rows.values())
    seconds = sum(float(t.seconds or 0) for t in rows.values())
    met, missed = n("met"), n("missed")
    return ClockFigures(
        clock=name,
        target=target,
        count=sum(int(t.count) for t in rows.values()),
        met=met,
        missed=missed,
        open=n("open"),
        closed=n("closed"),
        met_rate=_share(met, met + missed),
        average_business_seconds=round(seconds / timed, 1) if timed else None,
    )
