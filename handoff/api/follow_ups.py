"""`/api/follow-ups`: wrap-ups that require a follow-up, with owner and due date."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.deps import CurrentRep, DeskDep, LiveDep, RowId, SessionDep
from handoff.follow_ups import (
    FollowUpDone,
    FollowUpPublic,
    FollowUpStatus,
    list_follow_ups,
    mark_done,
)
from handoff.packet import conversation_detail
from handoff.reopen import reopen_for_follow_up
from handoff.schemas import ConversationPublic

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


@router.post("/{wrap_up_id}/reopen")
async def reopen(
    wrap_up_id: RowId, rep: CurrentRep, session: SessionDep, desk: DeskDep
) -> ConversationPublic:
    """Reopen the follow-up's resolved conversation, assigned to the caller (its owner, or a
    supervisor), to write to the customer with `POST /api/conversations/{id}/replies`.
    `reply_window` says whether WhatsApp will take the reply only as the approved template."""
    conversation = await reopen_for_follow_up(
        session=session, wrap_up_id=wrap_up_id, rep=rep, live=desk.live
    )
    return await conversation_detail(
        session=session,
        conversation_id=conversation.id,
        whatsapp_template=desk.whatsapp_template,
    )


@router.post("/{wrap_up_id}/done")
async def done(
    wrap_up_id: RowId,
    rep: CurrentRep,
    session: SessionDep,
    live: LiveDep,
    body: FollowUpDone | None = None,
) -> FollowUpPublic:
    """Mark a follow-up done (its owner, or a supervisor), with a note of what was done."""
    await mark_done(
        session=session,
        wrap_up_id=wrap_up_id,
        rep=rep,
        note=body.note if body else None,
        live=live,
    )
    [item] = await list_follow_ups(
        session=session, status=FollowUpStatus.DONE, wrap_up_id=wrap_up_id
    )
    return item
