"""Phone calls and emails a rep records by hand, so every policy channel is documented.

The chat channels log themselves; a call or an email reaches the record only when a rep writes
it down: who (a contact found by phone, email or a search, or a new one), which way, when, the
nature of the inquiry (a catalogue topic or free text), the actions taken and any follow-up.
Free text is masked like every other text a person writes, and each record is an audit event.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.faq_feedback import SELF_SERVICE_INTENTS
from bot.privacy import mask_sensitive
from bot.store.models import AuditEvent, Contact, LoggedInteraction, Rep, utcnow
from bot.text import clean_customer_text
from handoff.errors import Invalid, NotFound
from handoff.permissions import rep_actor
from handoff.schemas import MAX_TEXT_CHARS, InteractionCreate

logger = logging.getLogger(__name__)

# The self-service catalogue's 27 topics (../shared/CATALOGUE.md), offered as the nature of
# an inquiry; a rep may write anything else instead.
CATALOGUE_TOPICS: tuple[str, ...] = tuple(
    sorted(SELF_SERVICE_INTENTS | {"complaint", "contact_human_agent"})
)
_PHONE = re.compile(r"\+[1-9]\d{6,14}")
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
# A clock a little ahead of ours is not a call from the future.
_CLOCK_SKEW = timedelta(minutes=5)
# Older than this is a typo, not a call (and a year-1 date would not convert to UTC).
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def normal_phone(value: str | None) -> str | None:
    """A phone number as contacts store it (E.164, `+12465550123`); `Invalid` otherwise."""
    if value is None or not value.strip():
        return None
    phone = _PHONE_SEPARATORS.sub("", value.strip())
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _PHONE.fullmatch(phone):
        raise Invalid("Write the phone number with its country code, e.g. +1 246 555 0123.")
    return phone


def normal_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise Invalid(f"{value.strip()[:60]!r} is not an email address.")
    return email


def _free_text(value: str, what: str, limit: int) -> str:
    text = mask_sensitive(clean_customer_text(value))
    if not text:
        raise Invalid(f"The record needs the {what}.")
    if len(text) > limit:
        raise Invalid(f"Keep the {what} under {limit:,} characters.")
    return text


async def log_interaction(
    *, session: AsyncSession, rep: Rep, record: InteractionCreate, now: datetime | None = None
) -> LoggedInteraction:
    """Record a phone call or an email with a customer, committed with its audit event."""
    now = now or utcnow()
    occurred_at = record.occurred_at or now
    if occurred_at.tzinfo is None:
        raise Invalid("Give the time with its time zone (e.g. 2026-03-01T10:00:00Z).")
    if occurred_at > now + _CLOCK_SKEW:
        raise Invalid("The call or email cannot be in the future.")
    if occurred_at < _EARLIEST:
        raise Invalid("The call or email cannot be before the year 2000.")
    phone = normal_phone(record.phone)
    email = normal_email(record.email)
    name = clean_customer_text(record.name or "")[:200] or None
    if record.contact_id is None and not (phone or email or name):
        raise Invalid("Say who it was: a phone number, an email address or a name.")
    nature = _free_text(record.nature_of_inquiry, "nature of the inquiry", 100)
    actions = _free_text(record.actions_taken, "actions taken", MAX_TEXT_CHARS)
    owner_id: int | None = None
    if record.follow_up_required:
        owner = await session.scalar(
            select(Rep).where(
                Rep.username == clean_customer_text(record.follow_up_owner or "").lower()
            )
        )
        if owner is None or not owner.active:
            raise Invalid(f"There is no active rep named {record.follow_up_owner!r} to follow up.")
        owner_id = owner.id
    try:
        contact = await _contact_for(
            session, contact_id=record.contact_id, phone=phone, email=email, name=name, now=now
        )
        interaction = LoggedInteraction(
            contact_id=contact.id,
            channel=record.channel,
            direction=record.direction,
            occurred_at=occurred_at,
            phone=phone,
            email=email,
            name=name,
            nature_of_inquiry=nature,
            actions_taken=actions,
            follow_up_required=record.follow_up_required,
            follow_up_due=record.follow_up_due,
            follow_up_owner_id=owner_id,
            rep_id=rep.id,
            created_at=now,
        )
        session.add(interaction)
        await session.flush()
        session.add(
            AuditEvent(
                conversation_id=None,
                actor=rep_actor(rep),
                reason=(
                    f"{record.channel} {record.direction} logged: interaction {interaction.id}, "
                    f"contact {contact.id}"
                ),
                created_at=now,
            )
        )
        await session.commit()
    except IntegrityError as error:
        # Someone recorded the same new phone or email at the same moment: theirs stands.
        await session.rollback()
        raise Invalid(
            "This phone number or email was just given to another customer: search for them "
            "and log again."
        ) from error
    except BaseException:
        await session.rollback()
        raise
    logger.info(
        "interaction.logged interaction_id=%s contact_id=%s channel=%s rep_id=%s",
        interaction.id,
        contact.id,
        record.channel,
        rep.id,
    )
    return interaction


async def _contact_for(
    session: AsyncSession,
    *,
    contact_id: int | None,
    phone: str | None,
    email: str | None,
    name: str | None,
    now: datetime,
) -> Contact:
    """The contact the record is about: the one picked, else the one with this phone or email,
    else a new one. What the rep learnt (a phone, an email, a name) is added where it is new."""
    contact: Contact | None = None
    if contact_id is not None:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"There is no contact {contact_id}.")
    if contact is None and phone:
        contact = await session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None and email:
        contact = await session.scalar(select(Contact).where(Contact.email == email))
    if contact is None:
        contact = Contact(display_name=name, phone=phone, email=email, created_at=now)
        session.add(contact)
        await session.flush()
        return contact
    if phone and contact.phone is None and not await _taken(session, Contact.phone, phone):
        contact.phone = phone
    if email and contact.email is None and not await _taken(session, Contact.email, email):
        contact.email = email
    if name and not contact.display_name:
        contact.display_name = name
    return contact


async def _taken(
    session: AsyncSession, column: InstrumentedAttribute[str | None], value: str
) -> bool:
    found = await session.scalar(select(Contact.id).where(column == value))
    return found is not None
