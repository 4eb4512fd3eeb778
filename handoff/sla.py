"""The response clock: each handoff's window, and the at-risk and breach marks on it.

Every handoff gets its record (`handoffs` row) with the window of its priority (`due_at`) and
the moment it counts as at risk (`at_risk_after`, by default 75 % of the window). With no rep
reply by then it is marked at risk; with none by `due_at` it is marked breached and, unless the
supervisors already have it, escalated to tier 2 by the system. Each mark is set once, under
the conversation's lock, so a second monitor or a restart never repeats an escalation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import HUMAN_STATES, Actor, transition
from bot.policy import ResponseTargets, at_risk_after
from bot.settings import setting_default
from bot.store.models import Contact, Conversation, ConversationState, Handoff
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


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The response windows by priority and the share of a window after which it is at risk."""

    targets: ResponseTargets
    at_risk_fraction: float

    @classmethod
    def defaults(cls) -> SlaPolicy:
        """The policy of the settings' defaults (SLA_HOURS_*, SLA_AT_RISK_FRACTION)."""
        return cls(ResponseTargets.defaults(), setting_default("SLA_AT_RISK_FRACTION"))


def fill_window(record: Handoff, conversation: Conversation | None, policy: SlaPolicy) -> None:
    """Give a handoff record its window: the conversation's due time when it is its current
    handoff (set when it was queued), else its priority's target from the request."""
    if record.due_at is None:
        current = conversation is not None and (
            conversation.handoff_requested_at == record.requested_at
        )
        if current and conversation is not None and conversation.due_at is not None:
            record.due_at = conversation.due_at
        else:
            record.due_at = record.requested_at + policy.targets.for_priority(record.priority)
    record.at_risk_after = at_risk_after(
        record.requested_at, record.due_at, policy.at_risk_fraction
    )


async def check_open_handoffs(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    policy: SlaPolicy | None = None,
) -> list[SlaMark]:
    """Mark what is at risk or breached among handoffs waiting for a person; return the marks."""
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(
                    Conversation.id,
                    Handoff.id,
                    Handoff.due_at,
                    Handoff.at_risk_after,
                    Handoff.at_risk_at,
                    Handoff.breached_at,
                    Handoff.first_response_at,
                )
                .outerjoin(
                    Handoff,
                    and_(
                        Handoff.conversation_id == Conversation.id,
                        Handoff.requested_at == Conversation.handoff_requested_at,
                    ),
                )
                .where(Conversation.state.in_(HUMAN_STATES))
            )
        ).all()
    marks: list[SlaMark] = []
    for conversation_id, record_id, due, risky_after, at_risk, breached, answered in rows:
        needs_record = record_id is None or due is None or risky_after is None
        unanswered = answered is None
        at_risk_due = unanswered and at_risk is None and (risky_after is None or risky_after <= now)
        breach_due = unanswered and breached is None and (due is None or due <= now)
        if needs_record or at_risk_due or breach_due:
            marks.extend(
                await _check_one(
                    session_factory, conversation_id, now, policy or SlaPolicy.defaults()
                )
            )
    return marks


async def _check_one(
    session_factory: async_sessionmaker[AsyncSession],
    conversation_id: int,
    now: datetime,
    policy: SlaPolicy,
) -> list[SlaMark]:
    marks: list[SlaMark] = []
    async with session_factory() as session, committing(session):
        # The lock orders this with a rep's reply or claim on the same conversation; the
        # record is read again under it, so a mark set by anyone before is seen here.
        conversation = await lock_conversation(session, conversation_id)
        if conversation.state not in HUMAN_STATES:
            return []
        record = await current_handoff(session, conversation, now)
        if record.due_at is None or record.at_risk_after is None:
            fill_window(record, conversation, policy)
        await session.flush()
        assert record.due_at is not None and record.at_risk_after is not None
        if record.first_response_at is not None or record.resolved_at is not None:
            return []
        if record.at_risk_at is None and record.at_risk_after <= now:
            record.at_risk_at = now
            marks.append(SlaMark(conversation.id, record.id, "at_risk"))
        if record.breached_at is None and record.due_at <= now:
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
            marks.append(SlaMark(conversation.id, record.id, "breached", escalated))
    for mark in marks:
        logger.info(
            "sla.marked conversation_id=%s handoff_id=%s mark=%s escalated=%s",
            mark.conversation_id,
            mark.handoff_id,
            mark.kind,
            mark.escalated,
        )
    return marks


async def complete_closed_windows(
    session_factory: async_sessionmaker[AsyncSession], *, policy: SlaPolicy
) -> int:
    """Give a window to handoff records made after the fact (answered or resolved before the
    monitor first saw them), so reports can tell whether they were answered in time."""
    async with session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(Handoff, Conversation)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.due_at.is_(None))
                .limit(_WINDOW_BATCH)
            )
        ).all()
        for record, conversation in rows:
            fill_window(record, conversation, policy)
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
    due_at: datetime | None
    at_risk_at: datetime | None
    breached_at: datetime | None


async def watch_list(*, session: AsyncSession) -> list[SlaItemPublic]:
    """Open, unanswered handoffs marked at risk or breached, the most overdue first."""
    rows = await session.execute(
        select(Conversation, Handoff, Contact.display_name)
        .join(
            Handoff,
            and_(
                Handoff.conversation_id == Conversation.id,
                Handoff.requested_at == Conversation.handoff_requested_at,
            ),
        )
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            Conversation.state.in_(HUMAN_STATES),
            Handoff.first_response_at.is_(None),
            Handoff.at_risk_at.is_not(None),
        )
        .order_by(Handoff.due_at, Conversation.id)
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
            due_at=h.due_at,
            at_risk_at=h.at_risk_at,
            breached_at=h.breached_at,
        )
        for c, h, name in rows
    ]
