"""Canned responses: reply texts reps reuse, maintained by supervisors and admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import mask_sensitive
from bot.store.models import CannedResponse, Rep, Role, utcnow
from handoff.errors import Conflict, Invalid, NotFound
from handoff.permissions import require_role
from handoff.schemas import CannedResponseCreate, CannedResponseUpdate


async def list_canned(*, session: AsyncSession) -> list[CannedResponse]:
    return list(await session.scalars(select(CannedResponse).order_by(CannedResponse.title)))


async def _get(session: AsyncSession, canned_id: int) -> CannedResponse:
    found = await session.get(CannedResponse, canned_id)
    if found is None:
        raise NotFound(f"There is no canned response {canned_id}.")
    return found


def _clean(title: str | None, text: str | None) -> tuple[str | None, str | None]:
    title = " ".join(title.split()) if title is not None else None
    # Canned texts are sent to customers and shown to every rep: no card number in them.
    text = mask_sensitive(text.strip()) if text is not None else None
    if title == "" or text == "":
        raise Invalid("A canned response needs a title and a text.")
    return title, text


async def _commit_unique(session: AsyncSession, title: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"A canned response titled {title!r} exists already.") from None


async def create_canned(
    *, session: AsyncSession, rep: Rep, data: CannedResponseCreate, now: datetime | None = None
) -> CannedResponse:
    require_role(rep, Role.SUPERVISOR)
    title, text = _clean(data.title, data.text)
    assert title is not None and text is not None
    now = now or utcnow()
    canned = CannedResponse(
        title=title, text=text, updated_by_id=rep.id, created_at=now, updated_at=now
    )
    session.add(canned)
    await _commit_unique(session, title)
    return canned


async def update_canned(
    *,
    session: AsyncSession,
    rep: Rep,
    canned_id: int,
    data: CannedResponseUpdate,
    now: datetime | None = None,
) -> CannedResponse:
    require_role(rep, Role.SUPERVISOR)
    canned = await _get(session, canned_id)
    title, text = _clean(data.title, data.text)
    if title is not None:
        canned.title = title
    if text is not None:
        canned.text = text
    canned.updated_by_id = rep.id
    canned.updated_at = now or utcnow()
    await _commit_unique(session, canned.title)
    return canned


async def delete_canned(*, session: AsyncSession, rep: Rep, canned_id: int) -> None:
    require_role(rep, Role.SUPERVISOR)
    await session.delete(await _get(session, canned_id))
    await session.commit()
