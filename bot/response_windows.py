"""Response windows in the store: opening them, and stopping them when a reply reached the channel.

A window is stopped by the first reply of a person, written after it opened, that the channel
accepted (`deliveries.accepted_at`: status sent, later delivered). A reply still pending or
failed stops nothing: the customer has not got it. Stopping is read from the store, so it is
exact whichever gateway instance sent the reply, and a restart loses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import SenderKind
from bot.response_clock import ResponseClock
from bot.sending import GIVE_UP_AFTER
from bot.store.models import (
    DEFAULT_TEAM,
    Conversation,
    Delivery,
    DeliveryStatus,
    Handoff,
    Message,
    ResponseKind,
    ResponseWindow,
)

_SETTLE_BATCH = 500


async def handoff_record(
    session: AsyncSession, conversation: Conversation, now: datetime
) -> Handoff:
    """The record of the conversation's current handoff, made when missing (caller commits)."""
    if conversation.handoff_requested_at is None:
        conversation.handoff_requested_at = now
    record = await session.scalar(
        select(Handoff).where(
            Handoff.conversation_id == conversation.id,
            Handoff.requested_at == conversation.handoff_requested_at,
        )
    )
    if record is None:
        record = Handoff(
            conversation_id=conversation.id,
            requested_at=conversation.handoff_requested_at,
            reason=conversation.escalation_reason,
            priority=conversation.priority,
            # The clocks count the business hours of the team routing chose.
            team=conversation.team or DEFAULT_TEAM,
        )
        session.add(record)
    return record


def first_window(record: Handoff, clock: ResponseClock) -> ResponseWindow:
    """The first-response window of a handoff whose due time is set."""
    assert record.due_at is not None
    return ResponseWindow(
        handoff_id=record.id,
        conversation_id=record.conversation_id,
        kind=ResponseKind.FIRST,
        opened_at=record.requested_at,
        due_at=record.due_at,
        at_risk_after=clock.at_risk_after(record.team, record.requested_at, record.due_at),
    )


async def open_next_window(
    session: AsyncSession,
    conversation: Conversation,
    message: Message,
    clock: ResponseClock,
    now: datetime,
) -> ResponseWindow | None:
    """A customer wrote while a person owns the conversation: start a next-response window,
    unless one is already running (one reply answers them all)."""
    opened_at = message.created_at or now
    try:
        async with session.begin_nested():
            # A savepoint: the SLA monitor may be making the record at this moment; losing
            # that race must not fail the customer's turn.
            record = await handoff_record(session, conversation, now)
            await session.flush()
            running = await session.scalar(
                select(ResponseWindow.id).where(
                    ResponseWindow.handoff_id == record.id,
                    ResponseWindow.answered_at.is_(None),
                    ResponseWindow.kind == ResponseKind.NEXT,
                )
            )
            if running is not None:
                return None
            due = clock.next_response_due(record.team, opened_at)
            window = ResponseWindow(
                handoff_id=record.id,
                conversation_id=conversation.id,
                kind=ResponseKind.NEXT,
                opened_at=opened_at,
                opened_by_message_id=message.id,
                due_at=due,
                at_risk_after=clock.at_risk_after(record.team, opened_at, due),
            )
            session.add(window)
            await session.flush()
            return window
    except IntegrityError:
        return None


async def settle_answered(session: AsyncSession, clock: ResponseClock, *, now: datetime) -> int:
    """Stop the open windows a reply has answered since; return how many were stopped.

    Only a reply of the window's own handoff counts (written before it was resolved): a window
    the resolution closed unanswered stays so, whatever a later handoff's reps write. Windows
    of handoffs resolved longer ago than the outbox keeps retrying are not looked at again:
    no reply of theirs can still be accepted, and the look stays small as history grows.
    """
    settled_before = now - GIVE_UP_AFTER - timedelta(hours=1)
    accepted = func.coalesce(Delivery.accepted_at, Delivery.updated_at)
    answers = (
        select(
            ResponseWindow.id.label("window_id"),
            func.min(accepted).label("answered_at"),
        )
        .join(Handoff, Handoff.id == ResponseWindow.handoff_id)
        .join(
            Message,
            and_(
                Message.conversation_id == ResponseWindow.conversation_id,
                Message.sender_kind == SenderKind.REP,
                Message.created_at >= ResponseWindow.opened_at,
                or_(Handoff.resolved_at.is_(None), Message.created_at <= Handoff.resolved_at),
            ),
        )
        .join(
            Delivery,
            and_(
                Delivery.message_id == Message.id,
                Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.DELIVERED]),
            ),
        )
        .where(
            ResponseWindow.answered_at.is_(None),
            or_(Handoff.resolved_at.is_(None), Handoff.resolved_at > settled_before),
        )
        .group_by(ResponseWindow.id)
        .limit(_SETTLE_BATCH)
    )
    rows = (await session.execute(answers)).all()
    if not rows:
        return 0
    windows = {
        w.id: w
        for w in await session.scalars(
            select(ResponseWindow).where(ResponseWindow.id.in_([r.window_id for r in rows]))
        )
    }
    handoff_rows = (
        await session.execute(
            select(Handoff.id, Handoff.team, Handoff.resolved_at).where(
                Handoff.id.in_({w.handoff_id for w in windows.values()})
            )
        )
    ).all()
    teams = {handoff_id: team for handoff_id, team, _ in handoff_rows}
    resolved = {handoff_id: at for handoff_id, _, at in handoff_rows}
    for row in rows:
        window = windows[row.window_id]
        answered_at = row.answered_at
        if answered_at.tzinfo is None:  # SQLite hands aggregates back naive (stored as UTC)
            answered_at = answered_at.replace(tzinfo=UTC)
        window.answered_at = answered_at
        answer = (
            await session.execute(
                select(Message.id, Message.rep_id)
                .join(Delivery, Delivery.message_id == Message.id)
                .where(
                    Message.conversation_id == window.conversation_id,
                    Message.sender_kind == SenderKind.REP,
                    Message.created_at >= window.opened_at,
                    Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.DELIVERED]),
                    *(
                        [Message.created_at <= resolved[window.handoff_id]]
                        if resolved.get(window.handoff_id)
                        else []
                    ),
                )
                .order_by(accepted, Message.id)
                .limit(1)
            )
        ).first()
        window.answered_by_message_id = answer.id if answer else None
        if window.kind == ResponseKind.FIRST:
            # The handoff's first response is the reply the customer got first, as accepted.
            record = await session.get(Handoff, window.handoff_id)
            if record is not None and (
                record.first_response_at is None or record.first_response_at > answered_at
            ):
                record.first_response_at = answered_at
                record.first_response_rep_id = answer.rep_id if answer else None
        window.business_seconds = clock.business_time(
            teams.get(window.handoff_id), window.opened_at, answered_at
        ).total_seconds()
    return len(rows)
