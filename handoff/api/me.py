"""`/api/me`: the signed-in person and the conversations they own."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.deps import CurrentRep, SessionDep
from handoff.packet import queue_items
from handoff.queue import assigned_to
from handoff.schemas import QueueItemPublic, RepPublic

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def me(rep: CurrentRep) -> RepPublic:
    return RepPublic.model_validate(rep, from_attributes=True)


@router.get("/conversations")
async def my_conversations(rep: CurrentRep, session: SessionDep) -> list[QueueItemPublic]:
    """The conversations assigned to me, due soonest first."""
    return await queue_items(session, await assigned_to(session=session, rep=rep))
