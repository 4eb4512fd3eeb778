"""One customer's data on request: everything held about a contact, and erasing it.

A contact is named by its id, its phone number (`+1246…`), or `channel:address` of one of its
conversations (`telegram:123456`). Erasure reaches Rasa's tracker store first (every customer
text lives there too), then the store, in one transaction, and is itself an audit event. It is
refused while a person owns one of the contact's conversations: a rep mid-answer would lose it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files.store import FileStore
from bot.lifecycle import HUMAN_STATES
from bot.messages import Channel
from bot.rasa_client import AssistantUnavailable, RasaClient
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    LoggedInteraction,
    rasa_sender_id,
)
from bot.webchat_address import PREFIX as WEBCHAT_ADDRESS_PREFIX
from bot.webchat_address import webchat_address
from handoff.errors import ChannelUnavailable, Conflict, NotFound
from handoff.export_pages import plain_value
from handoff.retention import (
    CONVERSATION_RECORDS,
    delete_conversations,
    delete_files,
    files_of,
)

logger = logging.getLogger(__name__)


async def find_contact(session: AsyncSession, reference: str) -> Contact:
    """The contact `reference` names (id, phone, or channel:address); `NotFound` otherwise."""
    reference = reference.strip()
    found: Contact | None = None
    if reference.isdigit():
        found = await session.get(Contact, int(reference))
    elif reference.startswith("+"):
        found = await session.scalar(select(Contact).where(Contact.phone == reference))
    elif ":" in reference:
        channel, _, address = reference.partition(":")
        if channel == Channel.WEBCHAT and not address.startswith(WEBCHAT_ADDRESS_PREFIX):
            address = webchat_address(address)  # the customer's session id: stored hashed
        if channel in {c.value for c in Channel}:
            found = await session.scalar(
                select(Contact)
                .join(Conversation, Conversation.contact_id == Contact.id)
                .where(Conversation.channel == channel, Conversation.address == address)
            )
    if found is None:
        raise NotFound(f"There is no contact {reference!r}.")
    return found


def _row(record: Any) -> dict[str, Any]:
    return {c.key: plain_value(getattr(record, c.key)) for c in record.__table__.columns}


async def export_contact(
    session: AsyncSession, contact: Contact, *, rasa: RasaClient | None
) -> dict[str, Any]:
    """Everything held about `contact`: its record, each conversation with all that hangs
    off it, and what Rasa's tracker store holds for it (`rasa`: None leaves that out)."""
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.contact_id == contact.id)
            .order_by(Conversation.id)
        )
    )
    logged = await session.scalars(
        select(LoggedInteraction)
        .where(LoggedInteraction.contact_id == contact.id)
        .order_by(LoggedInteraction.id)
    )
    out: dict[str, Any] = {
        "contact": _row(contact),
        "conversations": [],
        "logged_interactions": [_row(i) for i in logged],
    }
    for conversation in conversations:
        # The address as people see it: a web chat address is the session's secret, which
        # an export must not carry (anyone holding it receives the customer's replies).
        held: dict[str, Any] = {
            "conversation": {**_row(conversation), "address": conversation.shown_address}
        }
        for name, model in CONVERSATION_RECORDS:
            rows = await session.scalars(
                select(model).where(model.conversation_id == conversation.id).order_by(model.id)
            )
            # A delivery carries the address too: shown as people see it, like the above.
            held[name] = [
                {**row, "address": conversation.shown_address} if "address" in row else row
                for row in map(_row, rows)
            ]
        if rasa is not None:
            try:
                held["assistant_tracker"] = await rasa.tracker_events(conversation.rasa_sender_id)
            except AssistantUnavailable as error:
                raise ChannelUnavailable(
                    f"The assistant's tracker store cannot be read now ({error})."
                ) from error
        out["conversations"].append(held)
    return out


async def erase_contact(
    session_factory: async_sessionmaker[AsyncSession],
    contact_id: int,
    *,
    rasa: RasaClient | None,
    actor: str,
    now: datetime,
    files: FileStore | None = None,
) -> Counter[str]:
    """Erase `contact_id` and everything held about it, Rasa's trackers first and the files
    it sent or was sent last; what went."""
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(Conversation.id, Conversation.state).where(
                    Conversation.contact_id == contact_id
                )
            )
        ).all()
        if await session.get(Contact, contact_id) is None:
            raise NotFound(f"There is no contact {contact_id}.")
    if any(state in HUMAN_STATES for _, state in rows):
        raise Conflict("A person is handling one of this customer's conversations: erase later.")
    if rasa is not None:
        for conversation_id, _ in rows:
            try:
                await rasa.erase_tracker(rasa_sender_id(conversation_id))
            except AssistantUnavailable as error:
                # Nothing erased from the store yet: try again when the assistant is back.
                raise ChannelUnavailable(
                    f"The assistant's tracker store cannot be erased now ({error})."
                ) from error
    counts: Counter[str] = Counter()
    async with session_factory() as session, session.begin():
        states = (
            await session.execute(
                select(Conversation.id, Conversation.state).where(
                    Conversation.contact_id == contact_id
                )
            )
        ).all()
        if any(state in HUMAN_STATES for _, state in states):
            raise Conflict("A person took one of this customer's conversations: erase later.")
        keys = await files_of(session, [c for c, _ in states])
        result = await session.execute(
            delete(LoggedInteraction)
            .where(LoggedInteraction.contact_id == contact_id)
            .execution_options(synchronize_session=False)
        )
        counts["logged_interactions"] += result.rowcount  # type: ignore[attr-defined]
        await delete_conversations(session, [(c, contact_id) for c, _ in states], counts)
        if not states:
            contact = await session.get(Contact, contact_id)
            if contact is not None:
                await session.delete(contact)
                counts["contacts"] += 1
        summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
        session.add(
            AuditEvent(
                conversation_id=None,
                actor=actor,
                reason=f"customer data erased: contact {contact_id}: {summary}"[:500],
                created_at=now,
            )
        )
    if files is not None:
        await delete_files(files, keys, counts)
    logger.info(
        "customer.erased contact_id=%s conversations=%s messages=%s actor=%s",
        contact_id,
        counts["conversations"],
        counts["messages"],
        actor,
    )
    return counts
