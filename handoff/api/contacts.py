"""`/api/contacts/{id}`: one customer's data on request, for admins (handoff/customer_data.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from bot.store.models import Rep, Role, utcnow
from handoff.customer_data import erase_contact, export_contact, find_contact
from handoff.deps import CurrentRep, DeskDep, RowId, SessionDep
from handoff.permissions import rep_actor, require_role

router = APIRouter(prefix="/api/contacts", tags=["customer data"])


async def get_admin(rep: CurrentRep) -> Rep:
    require_role(rep, Role.ADMIN)
    return rep


AdminRep = Annotated[Rep, Depends(get_admin)]


@router.get("/{contact_id}/data")
async def contact_data(
    contact_id: RowId, admin: AdminRep, session: SessionDep, desk: DeskDep
) -> dict[str, Any]:
    """Everything held about this customer, Rasa's tracker included (JSON)."""
    contact = await find_contact(session, str(contact_id))
    return await export_contact(session, contact, rasa=desk.rasa)


@router.delete("/{contact_id}")
async def erase(
    contact_id: RowId, admin: AdminRep, session: SessionDep, desk: DeskDep
) -> dict[str, int]:
    """Erase this customer from the store and from Rasa's tracker store (409 while a person
    handles one of their conversations)."""
    await session.close()
    counts = await erase_contact(
        desk.session_factory,
        contact_id,
        rasa=desk.rasa,
        actor=rep_actor(admin),
        now=utcnow(),
    )
    return dict(counts)
