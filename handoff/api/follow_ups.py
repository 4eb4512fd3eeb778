"""`/api/follow-ups`: wrap-ups that require a follow-up, with owner and due date."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.deps import CurrentRep, LiveDep, RowId, SessionDep
from handoff.follow_ups import FollowUpPublic, FollowUpStatus, list_follow_ups, mark_done

router = APIRouter(prefix="/api/follow-ups", tags=["follow-ups"])


@router.get("")
async def follow_ups(
    rep: CurrentRep,
    session: SessionDep,
    status: FollowUpStatus = FollowUpStatus.OPEN,
    mine: bool = False,
) -> list[FollowUpPublic]:
    """Follow-ups by due date; `overdue` ones are past it; `mine`: those the caller owns."""
    return await list_follow_ups(session=session, status=status, owner_id=rep.id if mine else None)


@router.post("/{wrap_up_id}/done")
async def done(
    wrap_up_id: RowId, rep: CurrentRep, session: SessionDep, live: LiveDep
) -> FollowUpPublic:
    """Mark a follow-up done (its owner, or a supervisor)."""
    await mark_done(session=session, wrap_up_id=wrap_up_id, rep=rep, live=live)
    [item] = await list_follow_ups(
        session=session, status=FollowUpStatus.DONE, wrap_up_id=wrap_up_id
    )
    return item
