"""Export of interaction records, streamed as CSV or JSON Lines.

One record per conversation (`kind` "conversation"): channel, customer, nature of inquiry, and,
from its latest handoff, the reason, priority, response times, the wrap-up (actions taken,
follow-up, rep) and the customer's rating, with the number of handoffs. Then one record per
phone call or email a rep logged (`kind` "interaction", channel `phone` or `email`): the same
columns where they mean something (customer, nature of inquiry, rep, actions taken, follow-up;
`last_message_at` is when it happened), with its id and direction. Records are read in keyset pages
(`WHERE id > last ORDER BY id LIMIT n`), each page in its own short session, so memory stays
flat for any number of conversations, no transaction or cursor stays open while a slow client
reads, and the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.store.models import (
    Contact,
    Conversation,
    Handoff,
    LoggedInteraction,
    Rating,
    RatingStatus,
    Rep,
    WrapUp,
)
from handoff.episode_export import EPISODE_FIELDS, episode_records
from handoff.export_pages import PAGE_SIZE, Record, keyset_records, plain_value

FIELDS = (
    "conversation_id",
    "channel",
    "language",
    "customer_name",
    "customer_address",
    "customer_phone",
    "state",
    "nature_of_inquiry",
    "handoffs",
    "handoff_reason",
    "priority",
    "tier",
    "handoff_requested_at",
    "due_at",
    "first_response_at",
    "first_response_seconds",
    "resolved_at",
    "rep",
    "actions_taken",
    "follow_up_required",
    "follow_up_due",
    "follow_up_owner",
    "follow_up_done_at",
    "rating",
    "created_at",
    "last_message_at",
    # Added with logged calls and emails; the columns above keep their place and meaning.
    "kind",
    "interaction_id",
    "direction",
    "customer_email",
    "follow_up_note",
)


class ExportKind(enum.StrEnum):
    """What one row is: a conversation (the export as it always was) or an episode."""

    CONVERSATIONS = "conversations"
    EPISODES = "episodes"


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/x-ndjson",
}


async def records(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[dict[str, Any]]:
    """Every conversation last active in [since, until), oldest id first, then every logged
    call and email that happened in it, as flat records."""

    async def conversations(session: AsyncSession, after: int, size: int) -> list[Record]:
        return await _page(session, after=after, since=since, until=until, size=size)

    async def interactions(session: AsyncSession, after: int, size: int) -> list[Record]:
        return await _interaction_page(session, after=after, since=since, until=until, size=size)

    async for record in keyset_records(
        session_factory, conversations, "conversation_id", page_size
    ):
        yield record
    async for record in keyset_records(session_factory, interactions, "interaction_id", page_size):
        yield record


async def _interaction_page(
    session: AsyncSession,
    *,
    after: int,
    since: datetime | None,
    until: datetime | None,
    size: int,
) -> list[dict[str, Any]]:
    owner = aliased(Rep)
    query = (
        select(LoggedInteraction, Contact, Rep.username, owner.username)
        .join(Contact, Contact.id == LoggedInteraction.contact_id)
        .join(Rep, Rep.id == LoggedInteraction.rep_id)
        .outerjoin(owner, owner.id == LoggedInteraction.follow_up_owner_id)
        .where(LoggedInteraction.id > after)
        .order_by(LoggedInteraction.id)
        .limit(size)
    )
    if since is not None:
        query = query.where(LoggedInteraction.occurred_at >= since)
    if until is not None:
        query = query.where(LoggedInteraction.occurred_at < until)
    out = []
    for i, contact, rep, owner_name in (await session.execute(query)).all():
        record: dict[str, Any] = dict.fromkeys(FIELDS)
        record.update(
            {
                "channel": i.channel,
                "customer_name": contact.display_name or i.name,
                "customer_address": i.phone or i.email,
                "customer_phone": contact.phone,
                "nature_of_inquiry": i.nature_of_inquiry,
                "handoffs": 0,
                "rep": rep,
                "actions_taken": i.actions_taken,
                "follow_up_required": i.follow_up_required,
                "follow_up_due": i.follow_up_due,
                "follow_up_owner": owner_name,
                "created_at": i.created_at,
                "last_message_at": i.occurred_at,
                "kind": "interaction",
                "interaction_id": i.id,
                "direction": i.direction,
                "customer_email": contact.email,
            }
        )
        out.append({k: plain_value(v) for k, v in record.items()})
    return out


async def _page(
    session: AsyncSession,
    *,
    after: int,
    since: datetime | None,
    until: datetime | None,
    size: int,
) -> list[dict[str, Any]]:
    activity = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    query = (
        select(Conversation, Contact.display_name, Contact.phone, Contact.email)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.id > after)
        .order_by(Conversation.id)
        .limit(size)
    )
    if since is not None:
        query = query.where(activity >= since)
    if until is not None:
        query = query.where(activity < until)
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    ids = [c.id for c, _, _, _ in rows]
    handoffs, counts = await _latest_handoffs(session, ids)
    wraps = await _latest_wrap_ups(session, ids)
    ratings = await _latest_ratings(session, ids)
    out = []
    for conversation, name, phone, email in rows:
        h = handoffs.get(conversation.id)
        w = wraps.get(conversation.id, {})
        first = h.first_response_at if h else None
        record = {
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "language": conversation.language,
            "customer_name": name,
            "customer_address": conversation.shown_address,
            "customer_phone": phone,
            "state": conversation.state,
            "nature_of_inquiry": w.get("nature_of_inquiry") or conversation.nature_of_inquiry,
            "handoffs": counts.get(conversation.id, 0),
            "handoff_reason": h.reason if h else None,
            "priority": h.priority if h else None,
            "tier": conversation.tier,
            "handoff_requested_at": h.requested_at if h else None,
            "due_at": h.due_at if h else None,
            "first_response_at": first,
            "first_response_seconds": (
                round((first - h.requested_at).total_seconds()) if h and first else None
            ),
            "resolved_at": h.resolved_at if h else None,
            "rep": w.get("rep"),
            "actions_taken": w.get("actions_taken"),
            "follow_up_required": w.get("follow_up_required"),
            "follow_up_due": w.get("follow_up_due"),
            "follow_up_owner": w.get("follow_up_owner"),
            "follow_up_done_at": w.get("follow_up_done_at"),
            "rating": ratings.get(conversation.id),
            "created_at": conversation.created_at,
            "last_message_at": conversation.last_message_at,
            "kind": "conversation",
            "interaction_id": None,
            "direction": None,
            "customer_email": email,
            "follow_up_note": w.get("follow_up_note"),
        }
        out.append({k: plain_value(v) for k, v in record.items()})
    return out


async def _latest_handoffs(
    session: AsyncSession, ids: list[int]
) -> tuple[dict[int, Handoff], dict[int, int]]:
    latest = (
        select(func.max(Handoff.id).label("id"), func.count().label("n"), Handoff.conversation_id)
        .where(Handoff.conversation_id.in_(ids))
        .group_by(Handoff.conversation_id)
        .subquery()
    )
    rows = await session.execute(
        select(Handoff, latest.c.n).join(latest, latest.c.id == Handoff.id)
    )
    handoffs, counts = {}, {}
    for record, n in rows:
        handoffs[record.conversation_id] = record
        counts[record.conversation_id] = int(n)
    return handoffs, counts


async def _latest_wrap_ups(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    latest = (
        select(func.max(WrapUp.id))
        .where(WrapUp.conversation_id.in_(ids))
        .group_by(WrapUp.conversation_id)
        .scalar_subquery()
    )
    owner = aliased(Rep)
    rows = await session.execute(
        select(WrapUp, Rep.username, owner.username)
        .join(Rep, Rep.id == WrapUp.rep_id)
        .outerjoin(owner, owner.id == WrapUp.follow_up_owner_id)
        .where(WrapUp.id.in_(latest))
    )
    return {
        w.conversation_id: {
            "nature_of_inquiry": w.nature_of_inquiry,
            "rep": rep,
            "actions_taken": w.actions_taken,
            "follow_up_required": w.follow_up_required,
            "follow_up_due": w.follow_up_due,
            "follow_up_owner": owner_name,
            "follow_up_done_at": w.follow_up_done_at,
            "follow_up_note": w.follow_up_note,
        }
        for w, rep, owner_name in rows
    }


async def _latest_ratings(session: AsyncSession, ids: list[int]) -> dict[int, int | None]:
    latest = (
        select(func.max(Rating.id))
        .where(Rating.conversation_id.in_(ids), Rating.status == RatingStatus.RATED)
        .group_by(Rating.conversation_id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Rating.conversation_id, Rating.score).where(Rating.id.in_(latest))
    )
    return {conversation_id: score for conversation_id, score in rows}


# A spreadsheet reads a cell starting with one of these as a formula (`=HYPERLINK(…)` in a
# customer's Telegram name would run when a supervisor opens the export).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> str:
    """How a record's value is written in CSV: empty for none, `true`/`false`, else as is,
    with text that a spreadsheet would run as a formula prefixed by `'` (as OWASP advises).

    Numbers are left alone: a negative number is a number, not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def csv_lines(
    source: AsyncIterator[dict[str, Any]],
    *,
    chunk: int = 200,
    fields: Sequence[str] = FIELDS,
) -> AsyncIterator[str]:
    """CSV text with a header row, a few hundred records per piece."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    n = 0
    async for record in source:
        writer.writerow({k: csv_value(v) for k, v in record.items()})
        n += 1
        if n % chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def jsonl_lines(
    source: AsyncIterator[dict[str, Any]], *, chunk: int = 200
) -> AsyncIterator[str]:
    """One JSON object per line, a few hundred records per piece."""
    lines: list[str] = []
    async for record in source:
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        if len(lines) >= chunk:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def encode(
    export_format: ExportFormat,
    source: AsyncIterator[dict[str, Any]],
    fields: Sequence[str] = FIELDS,
) -> AsyncIterator[str]:
    if export_format == ExportFormat.CSV:
        return csv_lines(source, fields=fields)
    return jsonl_lines(source)


def export_source(
    session_factory: async_sessionmaker[AsyncSession],
    kind: ExportKind,
    *,
    since: datetime | None,
    until: datetime | None,
) -> tuple[AsyncIterator[dict[str, Any]], Sequence[str]]:
    """The records of one kind of export, and its CSV columns."""
    if kind == ExportKind.EPISODES:
        return episode_records(session_factory, since=since, until=until), EPISODE_FIELDS
    return records(session_factory, since=since, until=until), FIELDS


async def write_export(
    session_factory: async_sessionmaker[AsyncSession],
    out: TextIO,
    *,
    export_format: ExportFormat,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: ExportKind = ExportKind.CONVERSATIONS,
) -> int:
    """Write the export to an open text file; return how many records it holds."""
    count = 0
    source, fields = export_source(session_factory, kind, since=since, until=until)

    async def counted() -> AsyncIterator[dict[str, Any]]:
        nonlocal count
        async for record in source:
            count += 1
            yield record

    async for piece in encode(export_format, counted(), fields):
        # A file write is short and buffered; a thread per piece would cost more than it saves.
        out.write(piece)
    return count
