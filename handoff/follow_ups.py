"""Follow-ups: wrap-ups that promised the customer something more, with owner and due date.

A follow-up is open until its owner (or a supervisor) marks it done. One whose due date has
passed is overdue; the monitor flags each overdue one once and tells the supervisors.
"""

from __future__ import annotations

import enum
import logging
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy import mask_sensitive
from bot.store.models import AlertKind, Contact, Conversation, Rep, Role, WrapUp, utcnow
from bot.text import clean_customer_text
from handoff.alerts.raising import AlertRaiser, follow_up_subject
from handoff.errors import Conflict, Invalid, NotAllowed, NotFound
from handoff.live import LiveEvent, LiveHub
from handoff.schemas import MAX_TEXT_CHARS, RepBrief

logger = logging.getLogger(__name__)
_T = TypeVar("_T", bound=Any)


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"
    ALL = "all"


class FollowUpPublic(BaseModel):
    wrap_up_id: int
    conversation_id: int
    conversation_state: str  # `resolved` or `bot`: it can be reopened to write to the customer
    channel: str
    customer: str
    nature_of_inquiry: str
    actions_taken: str
    due: date | None
    owner: RepBrief | None
    resolved_by: RepBrief | None
    created_at: datetime
    overdue: bool
    done_at: datetime | None
    done_note: str | None


class FollowUpDone(BaseModel):
    """Marking a follow-up done: what was done (optional, kept with the wrap-up)."""

    note: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


def follow_up_event(wrap_up: WrapUp, *, what: str) -> LiveEvent:
    """For consoles: a follow-up became overdue (`overdue`) or was done (`done`)."""
    return LiveEvent(
        "follow_up", wrap_up.conversation_id, {"wrap_up_id": wrap_up.id, "change": what}
    )


def _open() -> list[ColumnElement[bool]]:
    return [WrapUp.follow_up_required.is_(True), WrapUp.follow_up_done_at.is_(None)]


def _filtered(query: Select[_T], status: FollowUpStatus, today: date) -> Select[_T]:
    if status == FollowUpStatus.ALL:
        return query.where(WrapUp.follow_up_required.is_(True))
    if status == FollowUpStatus.DONE:
        return query.where(WrapUp.follow_up_done_at.is_not(None))
    query = query.where(*_open())
    if status == FollowUpStatus.OVERDUE:
        query = query.where(WrapUp.follow_up_due < today)
    return query


async def list_follow_ups(
    *,
    session: AsyncSession,
    status: FollowUpStatus = FollowUpStatus.OPEN,
    owner_id: int | None = None,
    wrap_up_id: int | None = None,
    conversation_id: int | None = None,
    today: date | None = None,
    limit: int = 500,
) -> list[FollowUpPublic]:
    """Follow-ups by due date (the most urgent first), optionally one owner's only."""
    today = today or utcnow().date()
    query = _filtered(select(WrapUp), status, today)
    if owner_id is not None:
        query = query.where(WrapUp.follow_up_owner_id == owner_id)
    if wrap_up_id is not None:
        query = query.where(WrapUp.id == wrap_up_id)
    if conversation_id is not None:
        query = query.where(WrapUp.conversation_id == conversation_id)
    query = query.order_by(WrapUp.follow_up_due.is_(None), WrapUp.follow_up_due, WrapUp.id)
    wraps = list(await session.scalars(query.limit(limit)))
    if not wraps:
        return []
    conversations = {
        c.id: (c, name)
        for c, name in await session.execute(
            select(Conversation, Contact.display_name)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.id.in_({w.conversation_id for w in wraps}))
        )
    }
    rep_ids = {w.follow_up_owner_id for w in wraps} | {w.rep_id for w in wraps}
    reps = {
        r.id: RepBrief.model_validate(r, from_attributes=True)
        for r in await session.scalars(select(Rep).where(Rep.id.in_(rep_ids - {None})))
    }
    items = []
    for w in wraps:
        conversation, name = conversations[w.conversation_id]
        items.append(
            FollowUpPublic(
                wrap_up_id=w.id,
                conversation_id=w.conversation_id,
                conversation_state=str(conversation.state),
                channel=str(conversation.channel),
                customer=name or conversation.shown_address,
                nature_of_inquiry=w.nature_of_inquiry,
                actions_taken=w.actions_taken,
                due=w.follow_up_due,
                owner=reps.get(w.follow_up_owner_id) if w.follow_up_owner_id else None,
                resolved_by=reps.get(w.rep_id),
                created_at=w.created_at,
                overdue=is_overdue(w, today),
                done_at=w.follow_up_done_at,
                done_note=w.follow_up_note,
            )
        )
    return items


def is_overdue(wrap_up: WrapUp, today: date) -> bool:
    return (
        wrap_up.follow_up_required
        and wrap_up.follow_up_done_at is None
        and wrap_up.follow_up_due is not None
        and wrap_up.follow_up_due < today
    )


async def mark_done(
    *,
    session: AsyncSession,
    wrap_up_id: int,
    rep: Rep,
    note: str | None = None,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> WrapUp:
    """Close a follow-up: its owner, or a supervisor, says it is done, and what was done."""
    now = now or utcnow()
    # Exported with the wrap-up: masked like every text a person writes.
    text = mask_sensitive(clean_customer_text(note or "")) or None
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise Invalid(f"Keep the note under {MAX_TEXT_CHARS:,} characters.")
    wrap = await session.get(WrapUp, wrap_up_id)
    if wrap is None or not wrap.follow_up_required:
        raise NotFound(f"There is no follow-up {wrap_up_id}.")
    if wrap.follow_up_owner_id != rep.id and not rep.role.covers(Role.SUPERVISOR):
        raise NotAllowed("Only the follow-up's owner or a supervisor can mark it done.")
    # Conditional, so two people closing it at once do not both succeed.
    result = await session.execute(
        update(WrapUp)
        .where(WrapUp.id == wrap_up_id, WrapUp.follow_up_done_at.is_(None))
        .values(follow_up_done_at=now, follow_up_done_by_id=rep.id, follow_up_note=text)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise Conflict("This follow-up is already done.")
    await session.commit()
    await session.refresh(wrap)
    logger.info("follow_up.done wrap_up_id=%s rep_id=%s", wrap_up_id, rep.id)
    if live is not None:
        live.publish(follow_up_event(wrap, what="done"))
    return wrap


async def flag_overdue(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    alerts: AlertRaiser | None = None,
) -> list[WrapUp]:
    """Flag open follow-ups past their due date that are not flagged yet; return them. With
    `alerts`, each flag raises its alert in the same transaction (once, like the flag)."""
    today = now.date()
    async with session_factory() as session, session.begin():
        due = list(
            await session.scalars(
                select(WrapUp)
                .where(
                    *_open(),
                    WrapUp.follow_up_due < today,
                    WrapUp.follow_up_overdue_at.is_(None),
                )
                .limit(500)
            )
        )
        flagged = []
        for wrap in due:
            result = await session.execute(
                update(WrapUp)
                .where(WrapUp.id == wrap.id, WrapUp.follow_up_overdue_at.is_(None))
                .values(follow_up_overdue_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                flagged.append(wrap)
                if alerts is not None:
                    await alerts.raise_alert(
                        session,
                        kind=AlertKind.FOLLOW_UP_OVERDUE,
                        subject=follow_up_subject(wrap.id),
                        conversation_id=wrap.conversation_id,
                        details={
                            "wrap_up_id": wrap.id,
                            "follow_up_due": wrap.follow_up_due.isoformat()
                            if wrap.follow_up_due
                            else None,
                            "owner_id": wrap.follow_up_owner_id,
                        },
                        now=now,
                    )
    for wrap in flagged:
        logger.info("follow_up.overdue wrap_up_id=%s owner_id=%s", wrap.id, wrap.follow_up_owner_id)
    return flagged
