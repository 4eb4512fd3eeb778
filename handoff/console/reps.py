"""Console page for routing to people: teams, reps' teams, languages and limits, presence.

Supervisors see it; admins change what a rep serves. Every rep sets their own presence from
the top bar of any page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.store.models import Presence, Role, utcnow
from handoff import roster
from handoff.console.render import page, redirect
from handoff.console.session import ConsoleUserDep, FormUserDep
from handoff.deps import DeskDep, SessionDep
from handoff.errors import HandoffError
from handoff.live import queue_changed
from handoff.permissions import rep_actor, require_role
from handoff.presence import presence_changed, set_presence

router = APIRouter(prefix="/console", include_in_schema=False)
BACK = "/console/reps"
Limit = Annotated[int | None, Form(ge=0, le=roster.MAX_CAPACITY)]


@router.get("/reps")
async def reps_page(
    request: Request, user: ConsoleUserDep, session: SessionDep, desk: DeskDep
) -> HTMLResponse:
    require_role(user.rep, Role.SUPERVISOR)
    return page(
        request,
        "reps.html",
        user=user,
        reps=await roster.roster_view(session, desk.capacity),
        teams=await roster.teams_view(session, desk.routing),
        can_edit=user.rep.role.covers(Role.ADMIN),
        defaults=desk.capacity,
    )


@router.post("/reps/{username}")
async def update_rep(
    username: str,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    teams: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[str, Form(max_length=200)] = "",
    max_chat: Limit = None,
    max_messaging: Limit = None,
) -> RedirectResponse:
    require_role(user.rep, Role.ADMIN)
    try:
        target = await roster.rep_named(session, username)
        actor = rep_actor(user.rep)
        await roster.set_skills(
            session=session,
            rep=target,
            table=desk.routing,
            actor=actor,
            teams=teams or [],
            languages=languages.replace(",", " ").split(),
        )
        roster.set_capacity(session, target, actor=actor, chat=max_chat, messaging=max_messaging)
        await session.commit()
    except HandoffError as error:
        await session.rollback()
        return redirect(BACK, notice=error.message)
    desk.live.publish(queue_changed())
    return redirect(BACK, notice=f"Saved what {target.display_name} serves.")


@router.post("/presence")
async def update_presence(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    presence: Annotated[Presence, Form()],
) -> RedirectResponse:
    """The top bar's toggle: back to the page it was on."""
    if set_presence(session, user.rep, presence, actor=rep_actor(user.rep), now=utcnow()):
        await session.commit()
        desk.live.publish(presence_changed(user.rep.id, presence))
    back = request.headers.get("referer", "")
    path = back.split("://", 1)[-1].partition("/")[2]
    target = f"/{path}" if path.startswith("console/") else "/console/queue"
    return redirect(target, notice=f"You are {presence}.")
