"""What a rep sees of a conversation: queue facts, the handoff packet, transcript, trail, notes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.files.store import valid_key
from bot.messages import Channel
from bot.policy import WHATSAPP_WINDOW, whatsapp_window_open
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    Delivery,
    Handoff,
    Message,
    Note,
    Rating,
    Rep,
    WrapUp,
    utcnow,
)
from handoff.errors import NotFound
from handoff.queue import language_of
from handoff.replies import worst_status
from handoff.roster import spoken_languages
from handoff.schemas import (
    AuditEventPublic,
    ButtonPublic,
    ConversationPublic,
    HandoffPacketPublic,
    LookupPublic,
    MessagePublic,
    NotePublic,
    QueueItemPublic,
    RatingPublic,
    RepBrief,
    ReplyWindowPublic,
    WrapUpPublic,
)


class RepNames:
    """Reps by id, loaded once per page."""

    def __init__(self, reps: list[Rep]) -> None:
        self._by_id = {rep.id: rep for rep in reps}

    @classmethod
    async def load(cls, session: AsyncSession, ids: set[int | None]) -> RepNames:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return cls([])
        return cls(list(await session.scalars(select(Rep).where(Rep.id.in_(wanted)))))

    def brief(self, rep_id: int | None) -> RepBrief | None:
        rep = self._by_id.get(rep_id) if rep_id is not None else None
        return RepBrief.model_validate(rep, from_attributes=True) if rep else None

    def actor_name(self, actor: str) -> str:
        if actor.startswith("rep:") and actor[4:].isdigit():
            rep = self._by_id.get(int(actor[4:]))
            return rep.display_name if rep else actor
        return actor


def queue_item(
    conversation: Conversation,
    contact: Contact | None,
    names: RepNames,
    now: datetime,
    spoken: set[str] | None = None,
) -> QueueItemPublic:
    requested = conversation.handoff_requested_at
    waiting = int((now - requested).total_seconds()) if requested else None
    routable = language_of(conversation)
    return QueueItemPublic(
        id=conversation.id,
        channel=str(conversation.channel),
        language=conversation.language,
        customer=(contact.display_name if contact and contact.display_name else None)
        or conversation.shown_address,
        state=str(conversation.state),
        tier=conversation.tier,
        priority=str(conversation.priority) if conversation.priority else None,
        reason=conversation.escalation_reason,
        nature_of_inquiry=conversation.nature_of_inquiry,
        requested_at=requested,
        waiting_seconds=waiting,
        due_at=conversation.due_at,
        overdue=bool(conversation.due_at and conversation.due_at < now),
        assigned_rep=names.brief(conversation.assigned_rep_id),
        team=conversation.team,
        language_unserved=routable is not None and spoken is not None and routable not in spoken,
    )


async def queue_items(
    session: AsyncSession, conversations: list[Conversation], now: datetime | None = None
) -> list[QueueItemPublic]:
    now = now or utcnow()
    names = await RepNames.load(session, {c.assigned_rep_id for c in conversations})
    contacts = {
        c.id: c
        for c in await session.scalars(
            select(Contact).where(Contact.id.in_({c.contact_id for c in conversations}))
        )
    }
    spoken = await spoken_languages(session) if conversations else set()
    return [queue_item(c, contacts.get(c.contact_id), names, now, spoken) for c in conversations]


# The slots the assistant's lookups keep (actions/lookups.py, actions/lookup_form.py): shown
# as one "looked up" card, not as raw values; the code's id and timings are of no use to a rep.
LOOKUP_SLOTS = frozenset(
    {
        "verified_order",
        "verification_method",
        "verification_contact",
        "verification_code",
        "verification_id",
        "verification_expires_at",
        "verification_codes_sent",
        "verification_attempts",
        "pending_lookup",
        "lookup_refusal",
        "looked_up",
    }
)


def lookup(slots: dict[str, Any]) -> LookupPublic | None:
    """What the bot verified and looked up, from its slots; None when it did neither."""
    method = slots.get("verification_method")
    verified_order = slots.get("verified_order") if method else None
    record = slots.get("looked_up") if isinstance(slots.get("looked_up"), dict) else None
    attempts = slots.get("verification_attempts")
    failed = int(attempts) if isinstance(attempts, int | float) else 0
    if verified_order is None and record is None and not failed:
        return None
    # Where a code went is known once one was sent (the slot then holds the masked contact).
    sent_to = slots.get("verification_contact") if slots.get("verification_id") else None
    return LookupPublic(
        verified_order=str(verified_order) if verified_order is not None else None,
        verified_by=str(method) if verified_order is not None else None,
        code_sent_to=str(sent_to) if sent_to else None,
        failed_attempts=failed,
        record={k: v for k, v in record.items() if v not in (None, "", [])} if record else None,
    )


def packet(conversation: Conversation) -> HandoffPacketPublic:
    context: dict[str, Any] = conversation.handoff_context or {}
    slots = context.get("slots") or {}
    return HandoffPacketPublic(
        intent=context.get("intent"),
        confidence=context.get("confidence"),
        reason=conversation.escalation_reason,
        priority=str(conversation.priority) if conversation.priority else None,
        language=conversation.language,
        # Empty slots say nothing to a rep.
        slots={k: v for k, v in slots.items() if v not in (None, "", []) and k not in LOOKUP_SLOTS},
        summary=context.get("summary"),
        lookup=lookup(slots),
    )


def _shown(attachment: dict[str, Any], conversation_id: int) -> dict[str, Any]:
    """An attachment as reps see it: a file the gateway keeps opens through the rep API."""
    key = attachment.get("file")
    if not isinstance(key, str) or not valid_key(key):
        return attachment
    return {**attachment, "url": f"/api/conversations/{conversation_id}/files/{key}"}


def _buttons(payload: dict[str, Any] | None) -> list[ButtonPublic]:
    found = (payload or {}).get("buttons") or []
    return [
        ButtonPublic(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in found
        if isinstance(b, dict)
    ]


def reply_window(
    conversation: Conversation, *, whatsapp_template: bool, now: datetime
) -> ReplyWindowPublic:
    """Whether a rep's reply can go as written now, said before they write it."""
    if conversation.channel != Channel.WHATSAPP:
        return ReplyWindowPublic(open=True, closes_at=None, template=False, message=None)
    last = conversation.last_customer_message_at
    closes_at = last + WHATSAPP_WINDOW if last else None
    if whatsapp_window_open(last, now):
        return ReplyWindowPublic(open=True, closes_at=closes_at, template=False, message=None)
    if whatsapp_template:
        message = (
            "The customer last wrote more than 24 hours ago, so WhatsApp takes only the "
            "approved template now: your reply goes inside it, on one line, cut to 900 "
            "characters."
        )
    else:
        message = (
            "The customer last wrote more than 24 hours ago and no WhatsApp template is "
            "configured (TWILIO_WHATSAPP_TEMPLATE_SID): a reply cannot reach them until they "
            "write again."
        )
    return ReplyWindowPublic(
        open=False, closes_at=closes_at, template=whatsapp_template, message=message
    )


async def conversation_detail(
    *,
    session: AsyncSession,
    conversation_id: int,
    now: datetime | None = None,
    whatsapp_template: bool = False,
) -> ConversationPublic:
    """Everything about one conversation a rep needs, read in a handful of queries
    (`whatsapp_template`: one is configured, for what a reply outside the window becomes)."""
    now = now or utcnow()
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id}.")
    contact = await session.get(Contact, conversation.contact_id)
    messages = list(
        await session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
    )
    statuses: dict[int, list[str]] = defaultdict(list)
    for message_id, status in await session.execute(
        select(Delivery.message_id, Delivery.status).where(
            Delivery.conversation_id == conversation_id
        )
    ):
        statuses[message_id].append(str(status))
    events = list(
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.conversation_id == conversation_id)
            .order_by(AuditEvent.id)
        )
    )
    notes = list(
        await session.scalars(
            select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
        )
    )
    wrap_ups = list(
        await session.scalars(
            select(WrapUp).where(WrapUp.conversation_id == conversation_id).order_by(WrapUp.id)
        )
    )
    ratings = list(
        await session.scalars(
            select(Rating).where(Rating.conversation_id == conversation_id).order_by(Rating.id)
        )
    )
    record = None
    if conversation.handoff_requested_at is not None:
        record = await session.scalar(
            select(Handoff).where(
                Handoff.conversation_id == conversation_id,
                Handoff.requested_at == conversation.handoff_requested_at,
            )
        )
    rep_ids: set[int | None] = {conversation.assigned_rep_id}
    rep_ids |= {m.rep_id for m in messages} | {n.rep_id for n in notes}
    rep_ids |= {w.rep_id for w in wrap_ups} | {w.follow_up_owner_id for w in wrap_ups}
    rep_ids |= {
        int(e.actor[4:]) for e in events if e.actor.startswith("rep:") and e.actor[4:].isdigit()
    }
    names = await RepNames.load(session, rep_ids)
    return ConversationPublic(
        summary=queue_item(conversation, contact, names, now, await spoken_languages(session)),
        address=conversation.shown_address,
        phone=contact.phone if contact else None,
        handoff_requested_at=conversation.handoff_requested_at,
        first_response_at=record.first_response_at if record else None,
        packet=packet(conversation),
        transcript=[
            MessagePublic(
                id=m.id,
                created_at=m.created_at,
                direction=str(m.direction),
                sender_kind=str(m.sender_kind),
                rep=names.brief(m.rep_id),
                text=m.text,
                buttons=_buttons(m.payload),
                attachments=[
                    _shown(a, conversation.id) for a in (m.payload or {}).get("attachments") or []
                ],
                intent=m.intent,
                intent_confidence=m.intent_confidence,
                language=m.language,
                delivery_status=worst_status(statuses.get(m.id, [])),
            )
            for m in messages
        ],
        events=[
            AuditEventPublic(
                id=e.id,
                created_at=e.created_at,
                actor=e.actor,
                actor_name=names.actor_name(e.actor),
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
            )
            for e in events
        ],
        notes=[
            NotePublic(id=n.id, created_at=n.created_at, rep=names.brief(n.rep_id), text=n.text)
            for n in notes
        ],
        wrap_ups=[
            WrapUpPublic(
                id=w.id,
                created_at=w.created_at,
                rep=names.brief(w.rep_id),
                nature_of_inquiry=w.nature_of_inquiry,
                actions_taken=w.actions_taken,
                follow_up_required=w.follow_up_required,
                follow_up_due=w.follow_up_due,
                follow_up_owner=names.brief(w.follow_up_owner_id),
            )
            for w in wrap_ups
        ],
        ratings=[RatingPublic.model_validate(r) for r in ratings],
        contact_id=conversation.contact_id,
        reply_window=reply_window(conversation, whatsapp_template=whatsapp_template, now=now),
    )
