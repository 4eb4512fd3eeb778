"""The response clocks: each handoff's windows, and the at-risk and breach marks on them.

Every handoff gets its record (`handoffs` row) with the first-response window of its priority
(`due_at`), the moment it counts as at risk (`at_risk_after`, by default 75 % of the window)
and its resolution due time, all in the business hours of its team (bot/response_clock.py).
Each window of the handoff (`response_windows`: the first response, and a next response for
each customer message while a person owns the conversation) is stopped by the first reply the
channel accepted after it opened. An open window past `at_risk_after` is marked at risk; past
`due_at` it is marked breached and, unless the supervisors already have it, the conversation is
escalated to tier 2 by the system. Each mark is set once, under the conversation's lock, so a
second monitor or a restart never repeats an escalation (nor an alert: handoff/alerts/).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import HUMAN_STATES, Actor, transition
from bot.response_clock import ResponseClock
from bot.response_windows import first_window, settle_answered
from bot.store.models import (
    AlertKind,
    Contact,
    Conversation,
    ConversationState,
    Handoff,
    ResponseKind,
    ResponseWindow,
)
from handoff.alerts.raising import AlertRaiser, handoff_subject
from handoff.queue import committing, current_handoff, lock_conversation

logger = logging.getLogger(__name__)

SLA_BREACHED = "SLA breached"
_WINDOW_BATCH = 500

MarkKind = Literal["at_risk", "breached"]


@dataclass(frozen=True, slots=True)
class SlaMark:
    """A mark the monitor set just now (what supervisors are told about)."""

    conversation_id: int
    handoff_id: int
    kind: MarkKind
    escalated: bool = False  # the breach moved the conversation to tier 2
    window: ResponseKind = ResponseKind.FIRST
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The clocks' targets and business hours (bot/response_clock.py)."""

    clock: ResponseClock = field(default_factory=ResponseClock)

    @classmethod
    def defaults(cls) -> SlaPolicy:
        """The settings' defaults (SLA_*), every hour counting."""
        return cls(ResponseClock())


def fill_window(record: Handoff, conversation: Conversation | None, policy: SlaPolicy) -> None:
    """Give a handoff record its windows: the conversation's due time when it is its current
    handoff (set when it was queued), else its priority's target from the request; the at-risk
    moment and the resolution due time, in the team's business hours."""
    clock = policy.clock
    if record.due_at is None:
        current = conversation is not None and (
            conversation.handoff_requested_at == record.requested_at
        )
        if current and conversation is not None and conversation.due_at is not None:
            record.due_at = conversation.due_at
        else:
            record.due_at = clock.first_response_due(
                record.team, record.priority, record.requested_at
            )
    record.at_risk_after = clock.at_risk_after(record.team, record.requested_at, record.due_at)
    if record.resolution_due_at is None:
        record.resolution_due_at = clock.resolution_due(record.team, record.requested_at)


async def check_open_handoffs(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    policy: SlaPolicy | None = None,
    alerts: AlertRaiser | None = None,
) -> list[SlaMark]:
    """Mark what is at risk or breached among handoffs waiting for a person; return the marks.

    In three steps, so that a window is never marked for want of a reply already accepted:
    every open handoff gets its record and first window, replies accepted since stop their
    windows, and only then are the open windows checked against the time.
    """
    policy = policy or SlaPolicy.defaults()
    await _give_windows(session_factory, now, policy)
    async with session_factory() as session, session.begin():
        await settle_answered(session, policy.clock, now=now)
    async with session_factory() as session:
        due = (
            await session.execute(
                select(ResponseWindow.id, ResponseWindow.conversation_id)
                .join(Conversation, Conversation.id == ResponseWindow.conversation_id)
                .join(
                    Handoff,
                    and_(
                        Handoff.id == ResponseWindow.handoff_id,
                        Handoff.requested_at == Conversation.handoff_requested_at,
                    ),
                )
                .where(
                    Conversation.state.in_(HUMAN_STATES),
                    ResponseWindow.answered_at.is_(None),
                    or_(
                        ResponseWindow.at_risk_at.is_(None) & (ResponseWindow.at_risk_after <= now),
                        ResponseWindow.breached_at.is_(None) & (ResponseWindow.due_at <= now),
                    ),
                )
                .order_by(ResponseWindow.due_at, ResponseWindow.id)
                .limit(_WINDOW_BATCH)
            )
        ).all()
    marks: list[SlaMark] = []
    for window_id, conversation_id in due:
        marks.extend(await _mark_one(session_factory, window_id, conversation_id, now, alerts))
    for mark in marks:
        logger.info(
            "sla.marked conversation_id=%s handoff_id=%s mark=%s window=%s escalated=%s",
            mark.conversation_id,
            mark.handoff_id,
            mark.kind,
            mark.window,
            mark.escalated,
        )
    return marks


async def _give_windows(
    session_factory: async_sessionmaker[AsyncSession], now: datetime, policy: SlaPolicy
) -> None:
    """Every open handoff without its record, due times or first window gets them."""
    first = (
        select(ResponseWindow.id)
        .where(ResponseWindow.handoff_id == Handoff.id, ResponseWindow.kind == ResponseKind.FIRST)
        .exists()
    )
    async with session_factory() as session:
        missing = list(
            await session.scalars(
                select(Conversation.id)
                .outerjoin(
                    Handoff,
                    and_(
                        Handoff.conversation_id == Conversation.id,
                        Handoff.requested_at == Conversation.handoff_requested_at,
                    ),
                )
                .where(
                    Conversation.state.in_(HUMAN_STATES),
                    or_(
                        Handoff.id.is_(None),
                        Handoff.due_at.is_(None),
                        Handoff.at_risk_after.is_(None),
                        Handoff.resolution_due_at.is_(None),
                        ~first,
                    ),
                )
                .limit(_WINDOW_BATCH)
            )
        )
    for conversation_id in missing:
        async with session_factory() as session, committing(session):
            # The lock orders this with a rep's reply or claim and with another monitor: the
            # record and its first window are made once.
            conversation = await lock_conversation(session, conversation_id)
            if conversation.state not in HUMAN_STATES:
                continue
            record = await current_handoff(session, conversation, now)
            if None in (record.due_at, record.at_risk_after, record.resolution_due_at):
                fill_window(record, conversation, policy)
            await session.flush()
            has_first = await session.scalar(
                select(ResponseWindow.id).where(
                    ResponseWindow.handoff_id == record.id,
                    ResponseWindow.kind == ResponseKind.FIRST,
                )
            )
            if has_first is None:
                session.add(first_window(record, policy.clock))


async def _mark_one(
    session_factory: async_sessionmaker[AsyncSession],
    window_id: int,
    conversation_id: int,
    now: datetime,
    alerts: AlertRaiser | None,
) -> list[SlaMark]:
    marks: list[SlaMark] = []
    async with session_factory() as session, committing(session):
        # Under the conversation's lock, the window is read again: a mark set by anyone
        # before (another monitor) is seen here and not set twice.
        conversation = await lock_conversation(session, conversation_id)
        window = await session.get(ResponseWindow, window_id, populate_existing=True)
        if window is None or window.answered_at is not None:
            return []
        if conversation.state not in HUMAN_STATES:
            return []
        record = await session.get(Handoff, window.handoff_id)
        assert record is not None
        if record.requested_at != conversation.handoff_requested_at:
            return []  # an earlier handoff of the conversation
        mirror = window.kind == ResponseKind.FIRST  # the handoff's own marks: first response
        if window.at_risk_at is None and window.at_risk_after <= now:
            window.at_risk_at = now
            if mirror and record.at_risk_at is None:
                record.at_risk_at = now
            marks.append(
                SlaMark(
                    conversation.id, record.id, "at_risk", window=window.kind, due_at=window.due_at
                )
            )
        if window.breached_at is None and window.due_at <= now:
            window.breached_at = now
            if mirror and record.breached_at is None:
                record.breached_at = now
            escalated = conversation.state != ConversationState.ESCALATED
            if escalated:
                transition(
                    session,
                    conversation,
                    ConversationState.ESCALATED,
                    actor=Actor.SYSTEM,
                    reason=SLA_BREACHED,
                    at=now,
                )
                conversation.tier = 2
                conversation.assigned_rep_id = None
            marks.append(
                SlaMark(
                    conversation.id,
                    record.id,
                    "breached",
                    escalated,
                    window=window.kind,
                    due_at=window.due_at,
                )
            )
        if alerts is not None:
            # In the mark's own transaction: the alert exists exactly when the mark does.
            for mark in marks:
                await alerts.raise_alert(
                    session,
                    kind=AlertKind(mark.kind),
                    subject=handoff_subject(record.id),
                    conversation_id=conversation.id,
                    details={
                        "handoff_id": record.id,
                        "window": str(window.kind),
                        "team": record.team,
                        "priority": str(record.priority or "normal"),
                        "reason": record.reason,
                        "window_opened_at": window.opened_at.isoformat(),
                        "due_at": window.due_at.isoformat(),
                        "escalated": mark.escalated,
                    },
                    now=now,
                )
    return marks


async def complete_closed_windows(
    session_factory: async_sessionmaker[AsyncSession], *, policy: SlaPolicy
) -> int:
    """Give due times to handoff records made after the fact (answered or resolved before the
    monitor first saw them), so reports can tell whether they were answered in time."""
    async with session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(Handoff, Conversation)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(or_(Handoff.due_at.is_(None), Handoff.resolution_due_at.is_(None)))
                .limit(_WINDOW_BATCH)
            )
        ).all()
        for record, conversation in rows:
            fill_window(record, conversation, policy)
        # Reports count first responses from the windows: a handoff answered or resolved
        # before the monitor saw it gets its first window too (stopped by the next settle).
        without_first = list(
            await session.scalars(
                select(Handoff)
                .where(
                    Handoff.due_at.is_not(None),
                    ~select(ResponseWindow.id)
                    .where(
                        ResponseWindow.handoff_id == Handoff.id,
                        ResponseWindow.kind == ResponseKind.FIRST,
                    )
                    .exists(),
                )
                .limit(_WINDOW_BATCH)
            )
        )
        session.add_all(first_window(record, policy.clock) for record in without_first)
        resolved = list(
            await session.scalars(
                select(Handoff)
                .where(
                    Handoff.resolved_at.is_not(None),
                    Handoff.resolution_business_seconds.is_(None),
                )
                .limit(_WINDOW_BATCH)
            )
        )
        for record in resolved:
            assert record.resolved_at is not None
            record.resolution_business_seconds = policy.clock.business_time(
                record.team, record.requested_at, record.resolved_at
            ).total_seconds()
        return len(rows)


class SlaItemPublic(BaseModel):
    """An open handoff that is at risk or past its window."""

    conversation_id: int
    channel: str
    customer: str
    state: str
    tier: int | None
    priority: str | None
    reason: str | None
    requested_at: datetime
    # The open window: the first response, or the next response to a customer's message.
    window: str
    due_at: datetime | None
    at_risk_at: datetime | None
    breached_at: datetime | None


async def watch_list(*, session: AsyncSession) -> list[SlaItemPublic]:
    """Open handoffs with an unanswered window marked at risk or breached, the most overdue
    first."""
    rows = await session.execute(
        select(Conversation, Handoff, ResponseWindow, Contact.display_name)
        .join(
            Handoff,
            and_(
                Handoff.conversation_id == Conversation.id,
                Handoff.requested_at == Conversation.handoff_requested_at,
            ),
        )
        .join(ResponseWindow, ResponseWindow.handoff_id == Handoff.id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            Conversation.state.in_(HUMAN_STATES),
            ResponseWindow.answered_at.is_(None),
            ResponseWindow.at_risk_at.is_not(None),
        )
        .order_by(ResponseWindow.due_at, Conversation.id)
        .limit(500)
    )
    return [
        SlaItemPublic(
            conversation_id=c.id,
            channel=str(c.channel),
            customer=name or c.shown_address,
            state=str(c.state),
            tier=c.tier,
            priority=str(c.priority) if c.priority else None,
            reason=c.escalation_reason,
            requested_at=h.requested_at,
            window=str(w.kind),
            due_at=w.due_at,
            at_risk_at=w.at_risk_at,
            breached_at=w.breached_at,
        )
        for c, h, w, name in rows
    ]
