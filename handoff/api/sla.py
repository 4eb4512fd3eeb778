"""`/api/sla`: open handoffs at risk of missing, or past, their response window (supervisors)."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.deps import SessionDep, SupervisorRep
from handoff.sla import SlaItemPublic, watch_list

router = APIRouter(prefix="/api/sla", tags=["sla"])


@router.get("/at-risk")
async def at_risk(rep: SupervisorRep, session: SessionDep) -> list[SlaItemPublic]:
    """Unanswered handoffs marked at risk or breached by the monitor, most overdue first."""
    return await watch_list(session=session)
