"""`/api/reps` and `/api/teams`: who serves which team and language, their limits, presence."""

from __future__ import annotations

from fastapi import APIRouter

from handoff import roster
from handoff.deps import AdminRep, CurrentRep, DeskDep, SessionDep, SupervisorRep
from handoff.live import queue_changed
from handoff.permissions import rep_actor
from handoff.schemas import RepRoutingPublic, RepRoutingUpdate, TeamPublic

router = APIRouter(prefix="/api", tags=["reps and teams"])


@router.get("/reps")
async def list_reps(
    rep: SupervisorRep, session: SessionDep, desk: DeskDep
) -> list[RepRoutingPublic]:
    """Everyone: teams, languages, limits, presence and open conversations (supervisors)."""
    return await roster.roster_view(session, desk.capacity)


@router.put("/reps/{username}/routing")
async def update_routing(
    username: str, update: RepRoutingUpdate, admin: AdminRep, session: SessionDep, desk: DeskDep
) -> RepRoutingPublic:
    """Change a rep's teams, languages or limits (admins); what is left out stays."""
    target = await roster.rep_named(session, username)
    actor = rep_actor(admin)
    await roster.set_skills(
        session=session,
        rep=target,
        table=desk.routing,
        actor=actor,
        teams=update.teams,
        languages=update.languages,
    )
    roster.set_capacity(
        session, target, actor=actor, chat=update.max_chat, messaging=update.max_messaging
    )
    await session.commit()
    desk.live.publish(queue_changed())  # a rep who can take more: the assigner looks again
    [view] = [v for v in await roster.roster_view(session, desk.capacity) if v.id == target.id]
    return view


@router.get("/teams")
async def list_teams(rep: CurrentRep, session: SessionDep, desk: DeskDep) -> list[TeamPublic]:
    """The teams of the routing table, with members, who is available and what waits."""
    return await roster.teams_view(session, desk.routing)
