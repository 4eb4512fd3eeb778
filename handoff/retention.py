"""Retention: purging conversations (and all that hangs off them) after N days of inactivity.

A conversation is purged when its last message (or, without one, its creation) is older than
the cutoff and no person owns it now (open handoffs are never purged). It goes with its
messages, deliveries, notes, wrap-ups, ratings, handoff records, FAQ feedback and audit events,
and its contact when nothing else is left. Phone calls and emails reps logged go when they
happened before the cutoff, and their contact with them when nothing else is left. Work is
done in batches, one transaction
each, so the store is never locked for long; the purge itself is an audit event (counts,
cutoff, who).

Rasa's tracker store holds every customer text too: given `erase_tracker`, each batch's
trackers are erased first, and the batch's rows only once that worked (a Rasa that cannot be
reached leaves them for the next run, rather than leave texts behind no one would find again).
No transaction stays open across those calls.

Files the gateway keeps for those messages (web chat uploads, reps' attachments) are deleted
from the file store once their rows are gone (`delete_files`); one that cannot be deleted then
is logged by key, to be removed by hand, and does not stop the purge.
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

from bot.files.store import FileStore, valid_key
from bot.lifecycle import HUMAN_STATES
from bot.store.models import (
    Alert,
    AlertDelivery,
    AuditEvent,
    Contact,
    Conversation,
    ConversationRead,
    Delivery,
    Episode,
    FaqFeedback,
    Handoff,
    LoggedInteraction,
    Message,
    Note,
    Rating,
    ResponseWindow,
    WrapUp,
    rasa_sender_id,
)

logger = logging.getLogger(__name__)

# Erases one conversation's tracker (by its Rasa sender id) from Rasa's tracker store.
TrackerEraser = Callable[[str], Awaitable[None]]

BATCH_SIZE = 500
# Everything held about a conversation, by the name reports and exports give it. Children
# first: each table's rows go before the rows they reference. A customer's data export
# (handoff/customer_data.py) reads the same list, so what is erased is what is shown.
CONVERSATION_RECORDS: tuple[tuple[str, Any], ...] = (
    ("ratings", Rating),
    ("episodes", Episode),
    ("faq_feedback", FaqFeedback),
    ("notes", Note),
    ("wrap_ups", WrapUp),
    ("response_windows", ResponseWindow),
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
    return [
        "conversations",
        *(name for name, _ in CONVERSATION_RECORDS),
        "logged_interactions",
        "contacts",
    ]


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
    files: FileStore | None = None,
) -> PurgeReport:
    """Purge conversations inactive for `older_than_days` days (or count them, `dry_run`),
    with their trackers in Rasa's tracker store when `erase_tracker` is given."""
    if older_than_days < 1:
        raise ValueError("keep at least one day of conversations")
    report = PurgeReport(cutoff=now - timedelta(days=older_than_days), dry_run=dry_run)
    if dry_run:
        await _count(session_factory, report)
    else:
        while await _purge_batch(session_factory, report, batch_size, erase_tracker, files):
            pass
        while await _purge_logged_batch(session_factory, report, batch_size):
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
        for name, model in CONVERSATION_RECORDS:
            report.counts[name] = int(
                await session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.conversation_id.in_(expired))
                )
                or 0
            )
        report.counts["logged_interactions"] = int(
            await session.scalar(
                select(func.count())
                .select_from(LoggedInteraction)
                .where(LoggedInteraction.occurred_at < report.cutoff)
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
    files: FileStore | None = None,
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
        keys = await files_of(session, [r[0] for r in rows])
        await delete_conversations(session, [(r[0], r[1]) for r in rows], report.counts)
    if files is not None:
        await delete_files(files, keys, report.counts)
    return True


async def files_of(session: AsyncSession, conversation_ids: Sequence[int]) -> list[str]:
    """The keys of the files the gateway keeps for these conversations' messages."""
    if not conversation_ids:
        return []
    payloads = await session.scalars(
        select(Message.payload).where(
            Message.conversation_id.in_(conversation_ids), Message.payload.is_not(None)
        )
    )
    keys = []
    for payload in payloads:
        for attachment in (payload or {}).get("attachments") or []:
            key = attachment.get("file") if isinstance(attachment, dict) else None
            if isinstance(key, str) and valid_key(key):
                keys.append(key)
    return keys


async def delete_files(files: FileStore, keys: Sequence[str], counts: Counter[str]) -> None:
    """Delete these files (their messages are gone); count them under "files"."""
    for key in keys:
        try:
            await files.delete(key)
        except Exception:
            # The rows are gone already: say which file is left, so it can be removed by hand.
            logger.exception("retention.file_delete_failed key=%s", key)
            continue
        counts["files"] += 1


async def _purge_logged_batch(
    session_factory: async_sessionmaker[AsyncSession], report: PurgeReport, batch_size: int
) -> bool:
    """Purge one batch of logged calls and emails from before the cutoff, and their contacts
    when nothing else is left of them; False when none was left."""
    async with session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(LoggedInteraction.id, LoggedInteraction.contact_id)
                .where(LoggedInteraction.occurred_at < report.cutoff)
                .order_by(LoggedInteraction.id)
                .limit(batch_size)
            )
        ).all()
        if not rows:
            return False
        result = await session.execute(
            delete(LoggedInteraction)
            .where(LoggedInteraction.id.in_([r[0] for r in rows]))
            .execution_options(synchronize_session=False)
        )
        report.counts["logged_interactions"] += result.rowcount  # type: ignore[attr-defined]
        contact_ids = {r[1] for r in rows}
        result = await session.execute(
            delete(Contact)
            .where(
                Contact.id.in_(contact_ids),
                Contact.id.not_in(select(Conversation.contact_id)),
                Contact.id.not_in(select(LoggedInteraction.contact_id)),
            )
            .execution_options(synchronize_session=False)
        )
        report.counts["contacts"] += result.rowcount  # type: ignore[attr-defined]
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
    # Supervisor alerts about these conversations, with their outbox rows (sent or not).
    alerts = select(Alert.id).where(Alert.conversation_id.in_(ids))
    await session.execute(
        delete(AlertDelivery)
        .where(AlertDelivery.alert_id.in_(alerts))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Alert)
        .where(Alert.conversation_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    counts["alerts"] += result.rowcount  # type: ignore[attr-defined]
    for name, model in CONVERSATION_RECORDS:
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
    # A customer with logged calls or emails stays, with them (erasure removes those first).
    still_logged = select(LoggedInteraction.contact_id).where(
        LoggedInteraction.contact_id.in_(contact_ids)
    )
    result = await session.execute(
        delete(Contact)
        .where(
            Contact.id.in_(contact_ids),
            Contact.id.not_in(still_used),
            Contact.id.not_in(still_logged),
        )
        .execution_options(synchronize_session=False)
    )
    counts["contacts"] += result.rowcount  # type: ignore[attr-defined]
