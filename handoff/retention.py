"""Retention: purging conversations (and all that hangs off them) after N days of inactivity.

A conversation is purged when its last message (or, without one, its creation) is older than
the cutoff and no person owns it now (open handoffs are never purged). It goes with its
messages, deliveries, notes, wrap-ups, ratings, handoff records, FAQ feedback and audit events,
and its contact when no other conversation is left. Work is done in batches, one transaction
each, so the store is never locked for long; the purge itself is an audit event (counts,
cutoff, who).

Rasa's tracker store holds every customer text too: given `erase_tracker`, each batch's
trackers are erased first, and the batch's rows only once that worked (a Rasa that cannot be
reached leaves them for the next run, rather than leave texts behind no one would find again).
No transaction stays open across those calls.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import HUMAN_STATES
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationRead,
    Delivery,
    Episode,
    FaqFeedback,
    Handoff,
    Message,
    Note,
    Rating,
    WrapUp,
    rasa_sender_id,
)

logger = logging.getLogger(__name__)

# Erases one conversation's tracker (by its Rasa sender id) from Rasa's tracker store.
TrackerEraser = Callable[[str], Awaitable[None]]

BATCH_SIZE = 500
# Children first: each table's rows go before the rows they reference.
_CHILDREN: tuple[tuple[str, Any], ...] = (
    ("ratings", Rating),
    ("episodes", Episode),
    ("faq_feedback", FaqFeedback),
    ("notes", Note),
    ("wrap_ups", WrapUp),
    ("handoffs", Handoff),
    ("deliveries", Delivery),
    ("messages", Message),
    ("audit_events", AuditEvent),
    ("reads", ConversationRead),
)


@dataclass
class PurgeReport:
    cutoff: datetime
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = ", ".join(f"{self.counts[name]} {name}" for name in _report_order())
        verb = "would purge" if self.dry_run else "purged"
        return f"{verb} {parts}; inactive since before {self.cutoff.isoformat()}"


def _report_order() -> list[str]:
    return ["conversations", *(name for name, _ in _CHILDREN), "contacts"]


def _expired(cutoff: datetime) -> Any:
    return and_(
        or_(
            Conversation.last_message_at < cutoff,
            and_(Conversation.last_message_at.is_(None), Conversation.created_at < cutoff),
        ),
        Conversation.state.not_in(HUMAN_STATES),
    )


async def purge_inactive(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    older_than_days: int,
    actor: str,
    now: datetime,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    erase_tracker: TrackerEraser | None = None,
) -> PurgeReport:
    """Purge conversations inactive for `older_than_days` days (or count them, `dry_run`),
    with their trackers in Rasa's tracker store when `erase_tracker` is given."""
    if older_than_days < 1:
        raise ValueError("keep at least one day of conversations")
    report = PurgeReport(cutoff=now - timedelta(days=older_than_days), dry_run=dry_run)
    if dry_run:
        await _count(session_factory, report)
    else:
        while await _purge_batch(session_factory, report, batch_size, erase_tracker):
            pass
        async with session_factory() as session, session.begin():
            reason = f"data purge: {report.summary()}"[:500]
            session.add(
                AuditEvent(conversation_id=None, actor=actor, reason=reason, created_at=now)
            )
    logger.info(
        "retention.purge dry_run=%s cutoff=%s conversations=%s messages=%s actor=%s",
        dry_run,
        report.cutoff.isoformat(),
        report.counts["conversations"],
        report.counts["messages"],
        actor,
    )
    return report


async def _count(session_factory: async_sessionmaker[AsyncSession], report: PurgeReport) -> None:
    expired = select(Conversation.id).where(_expired(report.cutoff)).scalar_subquery()
    async with session_factory() as session:
        conversations = select(func.count()).select_from(Conversation)
        report.counts["conversations"] = int(
            await session.scalar(conversations.where(_expired(report.cutoff))) or 0
        )
        for name, model in _CHILDREN:
            report.counts[name] = int(
                await session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.conversation_id.in_(expired))
                )
                or 0
            )
        # Contacts every one of whose conversations would go.
        kept = select(Conversation.contact_id).where(~_expired(report.cutoff))
        report.counts["contacts"] = int(
            await session.scalar(
                select(func.count(func.distinct(Conversation.contact_id))).where(
                    _expired(report.cutoff), Conversation.contact_id.not_in(kept)
                )
            )
            or 0
        )


async def _purge_batch(
    session_factory: async_sessionmaker[AsyncSession],
    report: PurgeReport,
    batch_size: int,
    erase_tracker: TrackerEraser | None,
) -> bool:
    """Purge one batch; False when nothing was left to purge."""
    async with session_factory() as session:
        ids = list(
            await session.scalars(
                select(Conversation.id)
                .where(_expired(report.cutoff))
                .order_by(Conversation.id)
                .limit(batch_size)
            )
        )
    if not ids:
        return False
    if erase_tracker is not None:
        for conversation_id in ids:
            await erase_tracker(rasa_sender_id(conversation_id))
    async with session_factory() as session, session.begin():
        # Still expired: a customer who wrote meanwhile keeps their conversation.
        rows = (
            await session.execute(
                select(Conversation.id, Conversation.contact_id).where(
                    Conversation.id.in_(ids), _expired(report.cutoff)
                )
            )
        ).all()
        await delete_conversations(session, [(r[0], r[1]) for r in rows], report.counts)
    return True


async def delete_conversations(
    session: AsyncSession, rows: Sequence[tuple[int, int]], counts: Counter[str]
) -> None:
    """Delete these (conversation id, contact id) conversations with everything that hangs off
    them, and their contacts when no conversation is left; add what went to `counts`."""
    if not rows:
        return
    ids = [r[0] for r in rows]
    contact_ids = {r[1] for r in rows}
    for name, model in _CHILDREN:
        result = await session.execute(
            delete(model)
            .where(model.conversation_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        counts[name] += result.rowcount  # type: ignore[attr-defined]
    result = await session.execute(
        delete(Conversation)
        .where(Conversation.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    counts["conversations"] += result.rowcount  # type: ignore[attr-defined]
    still_used = select(Conversation.contact_id).where(Conversation.contact_id.in_(contact_ids))
    result = await session.execute(
        delete(Contact)
        .where(Contact.id.in_(contact_ids), Contact.id.not_in(still_used))
        .execution_options(synchronize_session=False)
    )
    counts["contacts"] += result.rowcount  # type: ignore[attr-defined]
