"""`/api/contacts`: finding a customer and their history (reps); one customer's data on
request, for admins (handoff/customer_data.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bot.store.models import utcnow
from handoff.contacts import contact_history, search_contacts
from handoff.customer_data import erase_contact, export_contact, find_contact
from handoff.deps import AdminRep, CurrentRep, DeskDep, RowId, SessionDep
from handoff.permissions import rep_actor
from handoff.schemas import ContactHistoryPublic, ContactPublic

router = APIRouter(prefix="/api/contacts", tags=["customer data"])


@router.get("", tags=["contacts"])
async def search(
    rep: CurrentRep,
    session: SessionDep,
    q: Annotated[
        str, Query(min_length=2, max_length=100, description="phone, email, name or label")
    ],
) -> list[ContactPublic]:
    """Customers whose phone, email, name or web visitor label ("Web visitor 7F3A") matches."""
    return await search_contacts(session, q)


@router.get("/{contact_id}/history", tags=["contacts"])
async def history(contact_id: RowId, rep: CurrentRep, session: SessionDep) -> ContactHistoryPublic:
    """The customer's conversations on every channel and their logged calls and emails, newest
    first, each with its record (nature of inquiry, actions taken, follow-up)."""
    return await contact_history(session, contact_id)


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
