"""Console pages for supervisors and reps: the SLA watch, follow-ups, and the reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Role, utcnow
from handoff.console.render import SECURITY_HEADERS, page, redirect, render
from handoff.console.session import ConsoleUser, ConsoleUserDep, FormUserDep
from handoff.deps import MAX_ROW_ID, DeskDep, LiveDep, RowId, SessionDep
from handoff.errors import HandoffError
from handoff.follow_ups import FollowUpStatus, list_follow_ups, mark_done
from handoff.permissions import require_role
from handoff.reopen import reopen_for_follow_up
from handoff.reports.figures import ReportChannel, compute_reports, report_range
from handoff.reports.view import charts
from handoff.schemas import FORM_TEXT_CAP
from handoff.sla import watch_list

router = APIRouter(prefix="/console", include_in_schema=False)


async def _watch_context(session: AsyncSession, user: ConsoleUser) -> dict[str, Any]:
    require_role(user.rep, Role.SUPERVISOR)
    return {
        "at_risk": await watch_list(session=session),
        "overdue": await list_follow_ups(session=session, status=FollowUpStatus.OVERDUE),
    }


@router.get("/sla")
async def sla_page(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    return page(request, "sla.html", user=user, **await _watch_context(session, user))


@router.get("/sla/fragment")
async def sla_fragment(user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    html = render("_sla_live.html", user=user, **await _watch_context(session, user))
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.get("/follow-ups")
async def follow_ups_page(
    request: Request,
    user: ConsoleUserDep,
    session: SessionDep,
    status: FollowUpStatus = FollowUpStatus.OPEN,
    mine: bool = False,
) -> HTMLResponse:
    items = await list_follow_ups(
        session=session, status=status, owner_id=user.rep.id if mine else None
    )
    return page(
        request,
        "follow_ups.html",
        user=user,
        items=items,
        status=status.value,
        statuses=[s.value for s in FollowUpStatus],
        mine=mine,
    )


@router.post("/follow-ups/done")
async def follow_up_done(
    wrap_up_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)],
    user: FormUserDep,
    session: SessionDep,
    live: LiveDep,
    note: Annotated[str, Form(max_length=FORM_TEXT_CAP)] = "",
    back: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    # Back to the page the form was on: a console page only, never elsewhere.
    to = back if back.startswith("/console/") and "//" not in back else "/console/follow-ups"
    try:
        await mark_done(session=session, wrap_up_id=wrap_up_id, rep=user.rep, note=note, live=live)
    except HandoffError as error:
        return redirect(to, notice=error.message)
    return redirect(to, notice="Follow-up marked done.")


@router.post("/follow-ups/{wrap_up_id}/reopen")
async def follow_up_reopen(
    wrap_up_id: RowId, user: FormUserDep, session: SessionDep, live: LiveDep
) -> RedirectResponse:
    try:
        conversation = await reopen_for_follow_up(
            session=session, wrap_up_id=wrap_up_id, rep=user.rep, live=live
        )
    except HandoffError as error:
        return redirect("/console/follow-ups", notice=error.message)
    return redirect(
        f"/console/conversations/{conversation.id}",
        notice="Reopened: the conversation is yours. Write to the customer, then mark the "
        "follow-up done and resolve.",
    )


@router.get("/reports")
async def reports_page(
    request: Request,
    user: ConsoleUserDep,
    session: SessionDep,
    desk: DeskDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
    channel: Annotated[str, Query()] = "",
) -> HTMLResponse:
    require_role(user.rep, Role.SUPERVISOR)
    now = utcnow()
    known = {c.value for c in ReportChannel}
    chosen = ReportChannel(channel).parsed() if channel in known else None
    r = report_range(start, end, chosen, today=now.date())
    figures = await compute_reports(
        session,
        r,
        promise_hours=desk.promise_hours,
        now=now,
        clock=desk.response_clock,
        come_back=desk.come_back,
        old_containment=desk.old_containment,
    )
    return page(
        request,
        "reports.html",
        user=user,
        r=figures,
        charts=charts(figures),
        channels=[c.value for c in ReportChannel],
    )
