"""Console page for canned responses: supervisors and admins add, edit and delete them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from bot.store.models import Role
from handoff import canned
from handoff.console.render import page, redirect
from handoff.console.session import ConsoleUserDep, FormUserDep
from handoff.deps import RowId, SessionDep
from handoff.errors import HandoffError
from handoff.permissions import require_role
from handoff.schemas import FORM_TEXT_CAP, CannedResponseCreate, CannedResponseUpdate

router = APIRouter(prefix="/console/canned", include_in_schema=False)

CannedId = RowId
Title = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=FORM_TEXT_CAP)]
BACK = "/console/canned"


@router.get("")
async def canned_page(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    require_role(user.rep, Role.SUPERVISOR)
    return page(request, "canned.html", user=user, canned=await canned.list_canned(session=session))


@router.post("")
async def create(
    user: FormUserDep, session: SessionDep, title: Title = "", text: Text = ""
) -> RedirectResponse:
    require_role(user.rep, Role.SUPERVISOR)
    try:
        data = CannedResponseCreate(title=title.strip(), text=text.strip())
        await canned.create_canned(session=session, rep=user.rep, data=data)
    except ValidationError:
        return redirect(BACK, notice="A canned response needs a title and a text.")
    except HandoffError as error:
        return redirect(BACK, notice=error.message)
    return redirect(BACK, notice="Canned response added.")


@router.post("/{canned_id}")
async def update(
    canned_id: CannedId, user: FormUserDep, session: SessionDep, title: Title = "", text: Text = ""
) -> RedirectResponse:
    require_role(user.rep, Role.SUPERVISOR)
    try:
        data = CannedResponseUpdate(title=title.strip(), text=text.strip())
        await canned.update_canned(session=session, rep=user.rep, canned_id=canned_id, data=data)
    except ValidationError:
        return redirect(BACK, notice="A canned response needs a title and a text.")
    except HandoffError as error:
        return redirect(BACK, notice=error.message)
    return redirect(BACK, notice="Canned response saved.")


@router.post("/{canned_id}/delete")
async def delete(canned_id: CannedId, user: FormUserDep, session: SessionDep) -> RedirectResponse:
    require_role(user.rep, Role.SUPERVISOR)
    try:
        await canned.delete_canned(session=session, rep=user.rep, canned_id=canned_id)
    except HandoffError as error:
        return redirect(BACK, notice=error.message)
    return redirect(BACK, notice="Canned response deleted.")
