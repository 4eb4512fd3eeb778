"""`/api/reads`: who read which conversation, and when, for admins (handoff/reading.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from handoff.deps import MAX_ROW_ID, AdminRep, SessionDep
from handoff.packet import RepNames
from handoff.reading import reads
from handoff.schemas import ConversationReadPublic

router = APIRouter(prefix="/api/reads", tags=["customer data"])


@router.get("")
async def list_reads(
    admin: AdminRep,
    session: SessionDep,
    conversation_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    rep_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ConversationReadPublic]:
    """Reads of conversations by people, newest first: of one conversation, or by one rep."""
    found = await reads(session, conversation_id=conversation_id, rep_id=rep_id, limit=limit)
    names = await RepNames.load(session, {r.rep_id for r in found})
    return [
        ConversationReadPublic(
            id=r.id,
            conversation_id=r.conversation_id,
            rep=names.brief(r.rep_id),
            via=r.via,
            created_at=r.created_at,
        )
        for r in found
    ]
