"""`/api/queue`: what waits for a person, and taking the next conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from handoff.deps import CurrentRep, DeskDep, LiveDep, SessionDep
from handoff.packet import conversation_detail, queue_items
from handoff.queue import claim_next, preference_of, waiting
from handoff.schemas import ConversationPublic, QueueItemPublic

router = APIRouter(prefix="/api/queue", tags=["queue"])

Tier = Annotated[int, Query(ge=1, le=2, description="1: reps; 2: escalated, supervisors only")]


@router.get("")
async def list_queue(rep: CurrentRep, session: SessionDep, tier: Tier = 1) -> list[QueueItemPublic]:
    """Waiting conversations by priority, then due time."""
    return await queue_items(session, await waiting(session=session, rep=rep, tier=tier))


@router.post(
    "/next",
    response_model=ConversationPublic,
    responses={204: {"description": "the queue is empty"}},
)
async def take_next(
    rep: CurrentRep, session: SessionDep, live: LiveDep, desk: DeskDep, tier: Tier = 1
) -> ConversationPublic | Response:
    """Claim the first waiting conversation of the tier, those in my languages first, then
    those of my teams; 204 when there is none."""
    prefer = await preference_of(session, rep, desk.routing.default_team)
    conversation = await claim_next(session=session, rep=rep, tier=tier, live=live, prefer=prefer)
    if conversation is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return await conversation_detail(
        session=session,
        conversation_id=conversation.id,
        whatsapp_template=desk.whatsapp_template,
    )
