"""`/api/contacts/{id}`: one customer's data on request, for admins (handoff/customer_data.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bot.store.models import utcnow
from handoff.customer_data import erase_contact, export_contact, find_contact
from handoff.deps import AdminRep, DeskDep, RowId, SessionDep
from handoff.permissions import rep_actor

router = APIRouter(prefix="/api/contacts", tags=["customer data"])


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
        files=desk.files,
    )
    return dict(counts)
