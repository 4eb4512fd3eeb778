"""Console pages for customers: the search box, a customer's history, and logging a phone call
or an email (the same services as `/api/contacts` and `/api/interactions`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from bot.store.models import Rep
from handoff.console.render import page, redirect
from handoff.console.session import ConsoleUserDep, FormUserDep
from handoff.contacts import contact_history, search_contacts
from handoff.deps import RowId, SessionDep
from handoff.errors import HandoffError
from handoff.interactions import CATALOGUE_TOPICS, log_interaction
from handoff.schemas import FORM_TEXT_CAP, ContactPublic, InteractionCreate

router = APIRouter(prefix="/console", include_in_schema=False)

Short = Annotated[str, Form(max_length=300)]
Long = Annotated[str, Form(max_length=FORM_TEXT_CAP)]


async def _active_reps(session: SessionDep) -> list[Rep]:
    return list(
        await session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.display_name))
    )


@router.get("/contacts")
async def contacts_page(
    request: Request,
    user: ConsoleUserDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """Search results, and the form to log a call or email with someone not found."""
    found: list[ContactPublic] = []
    problem = None
    if q.strip():
        try:
            found = await search_contacts(session, q)
        except HandoffError as error:
            problem = error.message
    return page(
        request,
        "contacts.html",
        user=user,
        q=q,
        found=found,
        problem=problem,
        contact=None,
        topics=CATALOGUE_TOPICS,
        reps=await _active_reps(session),
    )


@router.get("/contacts/{contact_id}")
async def contact_page(
    request: Request, contact_id: RowId, user: ConsoleUserDep, session: SessionDep
) -> HTMLResponse:
    history = await contact_history(session, contact_id)
    return page(
        request,
        "contact.html",
        user=user,
        h=history,
        contact=history.contact,
        topics=CATALOGUE_TOPICS,
        reps=await _active_reps(session),
    )


@router.post("/interactions")
async def log_from_console(
    user: FormUserDep,
    session: SessionDep,
    channel: Annotated[str, Form(max_length=10)] = "",
    direction: Annotated[str, Form(max_length=10)] = "",
    occurred_at: Annotated[str, Form(max_length=30)] = "",
    contact_id: Annotated[str, Form(max_length=12)] = "",
    phone: Short = "",
    email: Short = "",
    name: Short = "",
    nature_of_inquiry: Short = "",
    actions_taken: Long = "",
    follow_up: Annotated[str, Form(max_length=3)] = "no",
    follow_up_due: Annotated[str, Form(max_length=10)] = "",
    follow_up_owner: Annotated[str, Form(max_length=50)] = "",
) -> RedirectResponse:
    back = f"/console/contacts/{contact_id}" if contact_id.isdigit() else "/console/contacts"
    try:
        record = InteractionCreate(
            channel=channel,  # validated by the model
            direction=direction,
            # The browser's datetime-local field has no zone: the console works in UTC.
            occurred_at=(
                datetime.fromisoformat(occurred_at).replace(tzinfo=UTC) if occurred_at else None
            ),
            contact_id=int(contact_id) if contact_id.isdigit() else None,
            phone=phone or None,
            email=email or None,
            name=name or None,
            nature_of_inquiry=nature_of_inquiry.strip(),
            actions_taken=actions_taken.strip(),
            follow_up_required=follow_up == "yes",
            follow_up_due=date.fromisoformat(follow_up_due) if follow_up_due else None,
            follow_up_owner=follow_up_owner or None,
        )
    except ValueError as error:  # ValidationError is a ValueError too
        return redirect(back, notice=_record_problem(error))
    try:
        interaction = await log_interaction(session=session, rep=user.rep, record=record)
    except HandoffError as error:
        return redirect(back, notice=error.message)
    what = "phone call" if record.channel == "phone" else "email"
    return redirect(
        f"/console/contacts/{interaction.contact_id}",
        notice=f"The {what} is on the customer's record.",
    )


def _record_problem(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        fields = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        if fields:
            names = ", ".join(sorted(f.replace("_", " ") for f in fields))
            return f"The record is incomplete or wrong: check {names}."
        return "The record is incomplete: a follow-up needs a due date and an owner."
    return "A date or time in the record is not valid."
