"""Finding a customer (by phone, email, name or web visitor label) and their whole history.

One customer may have written on several channels (SMS and WhatsApp share a phone), and may
have called or emailed, which reps log by hand (handoff/interactions.py). The history puts all
of it in one list, newest first, each with its record: the nature of the inquiry and, from the
latest wrap-up or the log, the actions taken and the follow-up.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Contact, Conversation, LoggedInteraction, WrapUp
from bot.text import clean_customer_text
from handoff.errors import Invalid, NotFound
from handoff.packet import RepNames
from handoff.schemas import (
    ContactConversationBrief,
    ContactHistoryPublic,
    ContactPublic,
    HistoryItemPublic,
    InteractionPublic,
)

SEARCH_LIMIT = 50
_NOT_DIGITS = re.compile(r"\D")


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive `text` inside `column`, with `%` and `_` taken literally."""
    return func.lower(column).contains(text.lower(), autoescape=True)


async def search_contacts(
    session: AsyncSession, query: str, *, limit: int = SEARCH_LIMIT
) -> list[ContactPublic]:
    """Contacts whose phone, email, name or conversation label (or non-secret address)
    matches `query`, most recently created first."""
    text = clean_customer_text(query)  # no control characters (PostgreSQL refuses NUL)
    if len(text) < 2:
        raise Invalid("Search with at least two characters.")
    digits = _NOT_DIGITS.sub("", text)
    matches = [
        _contains(Contact.email, text),
        _contains(Contact.display_name, text),
        Contact.id.in_(
            select(Conversation.contact_id).where(
                or_(
                    _contains(Conversation.address_label, text),
                    # A web chat address is a secret: it is found by its label only.
                    and_(
                        Conversation.address_label.is_(None), _contains(Conversation.address, text)
                    ),
                )
            )
        ),
        Contact.id.in_(
            select(LoggedInteraction.contact_id).where(_contains(LoggedInteraction.name, text))
        ),
    ]
    if len(digits) >= 4:
        matches.append(Contact.phone.contains(digits, autoescape=True))
    contacts = list(
        await session.scalars(
            select(Contact).where(or_(*matches)).order_by(Contact.id.desc()).limit(limit)
        )
    )
    return await _briefs(session, contacts)


async def _briefs(session: AsyncSession, contacts: list[Contact]) -> list[ContactPublic]:
    ids = [c.id for c in contacts]
    conversations: dict[int, list[ContactConversationBrief]] = defaultdict(list)
    counts: dict[int, int] = {}
    if ids:
        for conversation in await session.scalars(
            select(Conversation).where(Conversation.contact_id.in_(ids)).order_by(Conversation.id)
        ):
            conversations[conversation.contact_id].append(
                ContactConversationBrief(
                    id=conversation.id,
                    channel=str(conversation.channel),
                    address=conversation.shown_address,
                    state=str(conversation.state),
                    last_message_at=conversation.last_message_at,
                )
            )
        counts = {
            contact_id: int(n)
            for contact_id, n in await session.execute(
                select(LoggedInteraction.contact_id, func.count())
                .where(LoggedInteraction.contact_id.in_(ids))
                .group_by(LoggedInteraction.contact_id)
            )
        }
    return [
        ContactPublic(
            id=c.id,
            name=c.display_name,
            phone=c.phone,
            email=c.email,
            conversations=conversations.get(c.id, []),
            logged_interactions=counts.get(c.id, 0),
        )
        for c in contacts
    ]


def interaction_public(item: LoggedInteraction, names: RepNames) -> InteractionPublic:
    return InteractionPublic(
        id=item.id,
        contact_id=item.contact_id,
        channel=str(item.channel),
        direction=str(item.direction),
        occurred_at=item.occurred_at,
        phone=item.phone,
        email=item.email,
        name=item.name,
        nature_of_inquiry=item.nature_of_inquiry,
        actions_taken=item.actions_taken,
        follow_up_required=item.follow_up_required,
        follow_up_due=item.follow_up_due,
        follow_up_owner=names.brief(item.follow_up_owner_id),
        rep=names.brief(item.rep_id),
        created_at=item.created_at,
    )


async def contact_history(
    session: AsyncSession, contact_id: int, *, leave_out_conversation: int | None = None
) -> ContactHistoryPublic:
    """The contact and everything on record with them, newest first (`leave_out_conversation`:
    the one the rep is looking at)."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"There is no contact {contact_id}.")
    [brief] = await _briefs(session, [contact])
    conversations = [
        c
        for c in await session.scalars(
            select(Conversation).where(Conversation.contact_id == contact_id)
        )
        if c.id != leave_out_conversation
    ]
    wraps = await _latest_wrap_ups(session, [c.id for c in conversations])
    interactions = list(
        await session.scalars(
            select(LoggedInteraction).where(LoggedInteraction.contact_id == contact_id)
        )
    )
    rep_ids: set[int | None] = {w.rep_id for w in wraps.values()}
    names = await RepNames.load(session, rep_ids | {i.rep_id for i in interactions})
    items: list[HistoryItemPublic] = []
    for c in conversations:
        w = wraps.get(c.id)
        items.append(
            HistoryItemPublic(
                kind="conversation",
                id=c.id,
                channel=str(c.channel),
                direction=None,
                at=_activity(c),
                address=c.shown_address,
                state=str(c.state),
                nature_of_inquiry=(w.nature_of_inquiry if w else None) or c.nature_of_inquiry,
                actions_taken=w.actions_taken if w else None,
                follow_up_required=bool(w and w.follow_up_required),
                follow_up_due=w.follow_up_due if w else None,
                follow_up_done=bool(w and w.follow_up_done_at),
                rep=names.brief(w.rep_id) if w else None,
            )
        )
    for i in interactions:
        items.append(
            HistoryItemPublic(
                kind="interaction",
                id=i.id,
                channel=str(i.channel),
                direction=str(i.direction),
                at=i.occurred_at,
                address=i.phone or i.email,
                state=None,
                nature_of_inquiry=i.nature_of_inquiry,
                actions_taken=i.actions_taken,
                follow_up_required=i.follow_up_required,
                follow_up_due=i.follow_up_due,
                follow_up_done=False,
                rep=names.brief(i.rep_id),
            )
        )
    items.sort(key=lambda item: (item.at, item.kind, item.id), reverse=True)
    return ContactHistoryPublic(contact=brief, history=items)


def _activity(conversation: Conversation) -> datetime:
    return conversation.last_message_at or conversation.created_at


async def _latest_wrap_ups(session: AsyncSession, ids: list[int]) -> dict[int, WrapUp]:
    if not ids:
        return {}
    latest = (
        select(func.max(WrapUp.id))
        .where(WrapUp.conversation_id.in_(ids))
        .group_by(WrapUp.conversation_id)
        .scalar_subquery()
    )
    return {
        w.conversation_id: w
        for w in await session.scalars(select(WrapUp).where(WrapUp.id.in_(latest)))
    }
