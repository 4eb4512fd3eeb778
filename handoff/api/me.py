"""`/api/me`: the signed-in person and the conversations they own."""

from __future__ import annotations

from fastapi import APIRouter

from bot.store.models import utcnow
from handoff.deps import CurrentRep, LiveDep, SessionDep
from handoff.packet import queue_items
from handoff.permissions import rep_actor
from handoff.presence import presence_changed, set_presence
from handoff.queue import assigned_to
from handoff.schemas import PresencePublic, PresenceUpdate, QueueItemPublic, RepPublic

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def me(rep: CurrentRep) -> RepPublic:
    return RepPublic.model_validate(rep, from_attributes=True)


@router.get("/conversations")
async def my_conversations(rep: CurrentRep, session: SessionDep) -> list[QueueItemPublic]:
    """The conversations assigned to me, due soonest first."""
    return await queue_items(session, await assigned_to(session=session, rep=rep))


@router.get("/presence")
async def my_presence(rep: CurrentRep) -> PresencePublic:
    """Available (offered new conversations), busy (none offered) or away."""
    return PresencePublic.model_validate(rep)


@router.put("/presence")
async def set_my_presence(
    update: PresenceUpdate, rep: CurrentRep, session: SessionDep, live: LiveDep
) -> PresencePublic:
    """Set my presence. An API client that stays available calls any route at least every
    PRESENCE_AWAY_AFTER_MINUTES, or it is set away as a closed console is."""
    changed = set_presence(session, rep, update.presence, actor=rep_actor(rep), now=utcnow())
    await session.commit()
    if changed:
        live.publish(presence_changed(rep.id, update.presence))
    return PresencePublic.model_validate(rep)
