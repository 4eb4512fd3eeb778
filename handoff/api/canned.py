"""`/api/canned-responses`: reps read them; supervisors and admins write them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from handoff import canned
from handoff.deps import CurrentRep, RowId, SessionDep, SupervisorRep
from handoff.schemas import CannedResponseCreate, CannedResponsePublic, CannedResponseUpdate

router = APIRouter(prefix="/api/canned-responses", tags=["canned responses"])

CannedId = RowId


@router.get("")
async def list_canned(rep: CurrentRep, session: SessionDep) -> list[CannedResponsePublic]:
    return [
        CannedResponsePublic.model_validate(c) for c in await canned.list_canned(session=session)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_canned(
    body: CannedResponseCreate, rep: SupervisorRep, session: SessionDep
) -> CannedResponsePublic:
    created = await canned.create_canned(session=session, rep=rep, data=body)
    return CannedResponsePublic.model_validate(created)


@router.patch("/{canned_id}")
async def update_canned(
    canned_id: CannedId, body: CannedResponseUpdate, rep: SupervisorRep, session: SessionDep
) -> CannedResponsePublic:
    updated = await canned.update_canned(session=session, rep=rep, canned_id=canned_id, data=body)
    return CannedResponsePublic.model_validate(updated)


@router.delete("/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_canned(canned_id: CannedId, rep: SupervisorRep, session: SessionDep) -> Response:
    await canned.delete_canned(session=session, rep=rep, canned_id=canned_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
