"""`/api/reports` and `/api/export`: the figures and the interaction records (supervisors)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from bot.store.models import utcnow
from handoff.dates import check_range
from handoff.deps import DeskDep, SessionDep, SupervisorRep
from handoff.export import MEDIA_TYPES, ExportFormat, ExportKind, encode, export_source
from handoff.reports.figures import ReportChannel, Reports, compute_reports, report_range

router = APIRouter(prefix="/api", tags=["reports"])

Start = Annotated[date | None, Query(description="first day (UTC), inclusive")]
End = Annotated[date | None, Query(description="last day (UTC), inclusive")]


@router.get("/reports")
async def reports(
    rep: SupervisorRep,
    session: SessionDep,
    desk: DeskDep,
    start: Start = None,
    end: End = None,
    channel: ReportChannel | None = None,
) -> Reports:
    """The report figures for a date range (the last 30 days by default) and channel (a chat
    channel, or `phone` or `email` for the calls and emails reps logged)."""
    now = utcnow()
    r = report_range(start, end, channel.parsed() if channel else None, today=now.date())
    return await compute_reports(
        session,
        r,
        promise_hours=desk.promise_hours,
        now=now,
        clock=desk.response_clock,
        come_back=desk.come_back,
        old_containment=desk.old_containment,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def export(
    rep: SupervisorRep,
    session: SessionDep,
    desk: DeskDep,
    format: ExportFormat = ExportFormat.CSV,
    start: Start = None,
    end: End = None,
    kind: Annotated[
        ExportKind,
        Query(
            description="conversations: one row per conversation last active in the range; "
            "episodes: one row per episode (handoff or bot-only) started in it"
        ),
    ] = ExportKind.CONVERSATIONS,
) -> StreamingResponse:
    """Interaction records of the range, streamed (CSV or JSONL), per conversation or episode."""
    check_range(start, end)
    since = datetime.combine(start, time(), UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    # The stream reads in pages with sessions of its own; the request's is not needed.
    await session.close()
    prefix = "interactions" if kind == ExportKind.CONVERSATIONS else "episodes"
    name = f"{prefix}-{start or 'all'}-{end or utcnow().date()}.{format.value}"
    source, fields = export_source(desk.session_factory, kind, since=since, until=until)
    return StreamingResponse(
        encode(format, source, fields),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
