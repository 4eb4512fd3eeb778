"""The customer record: contacts, conversations, messages, deliveries (the outbox), audit events."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.messages import Channel, Direction, SenderKind


def utcnow() -> datetime:
    return datetime.now(UTC)


class AwareDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware datetimes, so comparisons work on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use bot.store.models.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# The team a handoff belongs to while nothing routes it to another (business_hours.yml).
DEFAULT_TEAM = "general"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: AwareDateTime}


class ConversationState(enum.StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Priority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is served first."""
        return list(Priority).index(self)


class Presence(enum.StrEnum):
    """Whether a person takes new conversations now (auto-assignment offers only to available)."""

    AVAILABLE = "available"
    BUSY = "busy"  # at work, taking no new conversations
    AWAY = "away"  # not at work: unanswered conversations go back to the queue after a grace


class TurnStatus(enum.StrEnum):
    """Where a customer message is in its processing (work is done from the store)."""

    PENDING = "pending"  # stored, not yet routed
    ROUTING = "routing"  # claimed by one gateway instance until `turn_lease_until`
    DONE = "done"  # routed: answered by the bot, or given to the human queue


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (first try, retry, or a web chat customer offline)
    SENDING = "sending"  # claimed by a sender; a lease protects against a crash mid-send
    SENT = "sent"  # accepted by the vendor (or emitted to a connected web chat)
    DELIVERED = "delivered"  # the vendor reported delivery
    UNDELIVERED = "undelivered"
    FAILED = "failed"  # permanent: not retried


def _enum(e: type[enum.Enum], length: int = 20) -> Enum:
    # Store values as strings (no native enum types): adding a member needs no migration.
    return Enum(e, native_enum=False, length=length, values_callable=lambda m: [x.value for x in m])


class Contact(Base):
    """A customer; one contact may write on several channels (SMS and WhatsApp share a phone)."""

    __tablename__ = "contacts"
    # A unique index rather than a constraint: SQLite adds one without rebuilding the table.
    __table_args__ = (Index("uq_contacts_email", "email", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Given when a rep logs an email with this customer (handoff/interactions.py).
    email: Mapped[str | None] = mapped_column(String(254))
    # STOP on SMS/WhatsApp: nothing more is sent until START.
    opted_out_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversations: Mapped[list[Conversation]] = relationship(back_populates="contact")


def rasa_sender_id(conversation_id: int) -> str:
    """The id Rasa's tracker knows conversation `conversation_id` by."""
    return f"conversation-{conversation_id}"


class Conversation(Base):
    """A customer's thread on one channel identity, with its state and escalation flag."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_conversation_channel_address"),
        Index("ix_conversation_queue", "state", "priority_rank", "due_at"),
        # Retention and export select by last activity.
        Index("ix_conversation_last_message", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(200))
    state: Mapped[ConversationState] = mapped_column(
        _enum(ConversationState), default=ConversationState.BOT
    )
    nature_of_inquiry: Mapped[str | None] = mapped_column(String(100))
    # The escalation flag and what the current handoff carries.
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reason: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[Priority | None] = mapped_column(_enum(Priority))
    # Queue order: Priority.rank, stored so the queue index serves ORDER BY directly.
    priority_rank: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[int | None] = mapped_column(Integer)
    # The rep who owns the conversation while it is assigned; None while it waits in a queue.
    assigned_rep_id: Mapped[int | None] = mapped_column(
        ForeignKey("reps.id", name="fk_conversation_assigned_rep"), index=True
    )
    due_at: Mapped[datetime | None] = mapped_column()
    handoff_requested_at: Mapped[datetime | None] = mapped_column()
    handoff_context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # One acknowledgement while waiting in the queue, not one per message.
    queue_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the privacy notice went to the customer on this channel (once, on first contact).
    privacy_notice_sent_at: Mapped[datetime | None] = mapped_column()
    # How people see the address when the address itself is a secret (a web chat session):
    # "Web visitor 7F3A". None: the address is shown (a phone number, a Telegram chat).
    address_label: Mapped[str | None] = mapped_column(String(40))
    # The conversation's language so far (bot/languages.py): "es", "ht", or one the assistant
    # does not answer in ("pap", "pt", "und" when it could not be told), which a person takes.
    # None: not decided yet (nothing the customer sent told), the assistant's default meanwhile.
    language: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column()
    # WhatsApp's customer-service window runs 24 hours from the customer's last message.
    last_customer_message_at: Mapped[datetime | None] = mapped_column()
    # The team whose reps serve it (handoff/routing.yml), chosen when it is handed off.
    team: Mapped[str | None] = mapped_column(String(50))
    # When it was first found waiting in a language no active rep speaks (flagged to
    # supervisors); cleared when a person takes it.
    unserved_language_at: Mapped[datetime | None] = mapped_column()
    # Until when the customer's next message is taken as a one-time code the assistant asked
    # for: its digits are masked in the log and handed to the assistant beside the text
    # (bot/privacy.py `take_one_time_code`, bot/router.py).
    code_expected_until: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship(back_populates="conversations")

    @property
    def rasa_sender_id(self) -> str:
        """The id Rasa's tracker knows this conversation by (Rasa knows nothing of channels)."""
        return rasa_sender_id(self.id)

    @property
    def shown_address(self) -> str:
        """The address as people (reps, exports) see it: the label when the address is secret."""
        return self.address_label or self.address


class Message(Base):
    """One message in a conversation, either way; customer messages carry the predicted intent."""

    __tablename__ = "messages"
    __table_args__ = (
        # A vendor delivery id seen before is a duplicate delivery (webhook retry).
        UniqueConstraint("channel", "external_id", name="uq_message_channel_external_id"),
        Index("ix_message_conversation", "conversation_id", "id"),
        Index("ix_message_turn_pending", "turn_status"),
        # Reports count the conversations customers wrote in, per day.
        Index("ix_message_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    sender_kind: Mapped[SenderKind] = mapped_column(_enum(SenderKind))
    rep_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(100))
    intent: Mapped[str | None] = mapped_column(String(100))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    # A customer message's own language as detected ("und": unsure; None: no words to go on).
    language: Mapped[str | None] = mapped_column(String(12))
    turn_status: Mapped[TurnStatus | None] = mapped_column(_enum(TurnStatus))
    # While routing: past this time the instance is taken for dead and another may route it.
    turn_lease_until: Mapped[datetime | None] = mapped_column()
    # Times the message was claimed for routing; past ROUTE_MAX_ATTEMPTS it is given up.
    route_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """The outbox: one row per message part to send, retried until sent or failed for good."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_conversation", "conversation_id", "id"),
        Index("ix_delivery_provider_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    # A send was cut off before its outcome was known: the vendor may already have it
    # (bot/outbox.py looks before sending again).
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the channel accepted it (status `sent`): a rep's reply counts for the response
    # clocks from then, not from when it was written.
    accepted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """A state change: who, when, from, to, why."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    actor: Mapped[str] = mapped_column(String(100))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRead(Base):
    """A person read a conversation (its transcript): who, when, and through what."""

    __tablename__ = "conversation_reads"
    __table_args__ = (Index("ix_conversation_read_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    via: Mapped[str] = mapped_column(String(20))  # "api", "console"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The human queue: reps and their sessions, handoff records, wrap-ups, notes, canned responses,
# customer ratings.


class Role(enum.StrEnum):
    """What a person may do in the console and API; each role can do what the ones before can."""

    REP = "rep"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def covers(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class SessionKind(enum.StrEnum):
    CONSOLE = "console"  # a browser session (cookie), with a CSRF token
    API = "api"  # a bearer token


class RatingStatus(enum.StrEnum):
    PENDING = "pending"  # asked; the customer's next message may be the answer
    RATED = "rated"
    SKIPPED = "skipped"  # the customer wrote something else


class Rep(Base):
    """A person who answers customers: a rep, a supervisor (tier 2) or an admin."""

    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Login throttling per username, in the store so it holds across gateway instances.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    login_blocked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column()
    # Presence: offered new conversations only while available. `away_auto`: away for want of a
    # console (new accounts, or set by the monitor), so opening the console makes them
    # available; a rep who chose away stays away until they choose otherwise.
    presence: Mapped[Presence] = mapped_column(
        _enum(Presence), default=Presence.AWAY, server_default=Presence.AWAY.value
    )
    presence_changed_at: Mapped[datetime | None] = mapped_column()
    away_auto: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The console's live connection (or an API call) last seen; the monitor sets away after
    # PRESENCE_AWAY_AFTER_MINUTES without it.
    last_seen_at: Mapped[datetime | None] = mapped_column()
    # Last time a conversation was given to them: ties in auto-assignment go to the longest idle.
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    # Most open conversations at once per channel kind; None: the settings' default.
    max_chat: Mapped[int | None] = mapped_column(Integer)
    max_messaging: Mapped[int | None] = mapped_column(Integer)


class RepTeam(Base):
    """A rep's membership of a team (teams are declared in handoff/routing.yml)."""

    __tablename__ = "rep_teams"

    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), primary_key=True)
    team: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


class RepLanguage(Base):
    """A language a rep answers customers in (a language code: en, es, fr, ht, nl, ...)."""

    __tablename__ = "rep_languages"

    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)


class RepSession(Base):
    """A console session or API token; only a hash of the token is stored."""

    __tablename__ = "rep_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Handoff(Base):
    """One handoff of a conversation to people, from request to resolution (response times)."""

    __tablename__ = "handoffs"
    __table_args__ = (
        UniqueConstraint("conversation_id", "requested_at", name="uq_handoff_conversation_request"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    requested_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[Priority | None] = mapped_column(_enum(Priority))
    first_response_at: Mapped[datetime | None] = mapped_column()
    first_response_rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    # The response window (policy target by priority) and the SLA monitor's marks; a mark is
    # set once, so a restarted or second monitor never repeats what it did.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    at_risk_after: Mapped[datetime | None] = mapped_column()
    at_risk_at: Mapped[datetime | None] = mapped_column()
    breached_at: Mapped[datetime | None] = mapped_column()
    # The team whose business hours the clocks count (DEFAULT_TEAM until routing names one),
    # and when the handoff should be resolved by (business time from the request).
    team: Mapped[str] = mapped_column(String(50), default=DEFAULT_TEAM, server_default=DEFAULT_TEAM)
    resolution_due_at: Mapped[datetime | None] = mapped_column()
    # Business time from request to resolution, kept once resolved so reports need no calendar.
    resolution_business_seconds: Mapped[float | None] = mapped_column(Float)


class ResponseKind(enum.StrEnum):
    FIRST = "first"  # from the handoff request to the first reply that reached the channel
    NEXT = "next"  # from a customer message, while a person owns the conversation, to the reply


class ResponseWindow(Base):
    """One response clock of a handoff: opened by the request or a customer message, stopped
    by the first rep reply the channel accepted after it; due and at risk in business time."""

    __tablename__ = "response_windows"
    __table_args__ = (
        # A message opens at most one window (the first window has no message).
        UniqueConstraint("handoff_id", "kind", "opened_at", name="uq_response_window_opening"),
        Index("ix_response_window_open", "answered_at", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[ResponseKind] = mapped_column(_enum(ResponseKind))
    opened_at: Mapped[datetime] = mapped_column()
    opened_by_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    due_at: Mapped[datetime] = mapped_column()
    at_risk_after: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_by_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Business seconds from opening to the answer, kept so reports need no calendar.
    business_seconds: Mapped[float | None] = mapped_column(Float)
    at_risk_at: Mapped[datetime | None] = mapped_column()
    breached_at: Mapped[datetime | None] = mapped_column()


class WrapUp(Base):
    """What a rep records when resolving: nature of inquiry, actions taken, follow-up."""

    __tablename__ = "wrap_ups"
    __table_args__ = (
        Index("ix_wrap_up_conversation", "conversation_id", "id"),
        Index("ix_wrap_up_follow_up", "follow_up_required", "follow_up_done_at", "follow_up_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    nature_of_inquiry: Mapped[str] = mapped_column(String(100))
    actions_taken: Mapped[str] = mapped_column(Text)
    follow_up_required: Mapped[bool] = mapped_column(Boolean)
    follow_up_due: Mapped[date | None] = mapped_column(Date)
    follow_up_owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An open follow-up is required and not done; the monitor flags it once when overdue.
    follow_up_done_at: Mapped[datetime | None] = mapped_column()
    follow_up_done_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("reps.id", name="fk_wrap_up_follow_up_done_by")
    )
    follow_up_overdue_at: Mapped[datetime | None] = mapped_column()
    # What was done, written by whoever marked the follow-up done (masked like other free text).
    follow_up_note: Mapped[str | None] = mapped_column(Text)


class InteractionChannel(enum.StrEnum):
    """Policy channels a rep records by hand: the chat channels are logged by themselves."""

    PHONE = "phone"
    EMAIL = "email"


class LoggedInteraction(Base):
    """A phone call or an email with a customer, recorded by a rep: the same record a wrap-up
    keeps (nature of inquiry, actions taken, follow-up), against the contact."""

    __tablename__ = "logged_interactions"
    __table_args__ = (
        Index("ix_logged_interaction_contact", "contact_id", "occurred_at"),
        Index("ix_logged_interaction_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[InteractionChannel] = mapped_column(_enum(InteractionChannel))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    occurred_at: Mapped[datetime] = mapped_column()
    # How the customer was reached, as the rep recorded it (the contact may hold others).
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    nature_of_inquiry: Mapped[str] = mapped_column(String(100))
    actions_taken: Mapped[str] = mapped_column(Text)
    follow_up_required: Mapped[bool] = mapped_column(Boolean)
    follow_up_due: Mapped[date | None] = mapped_column(Date)
    follow_up_owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """A private note on a conversation, for reps only; never sent to the customer."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_note_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedResponse(Base):
    """A reply text reps reuse; supervisors and admins maintain them."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rating(Base):
    """The customer's 1-5 rating of the help after a resolution, against wrap-up and rep."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_rating_conversation_status", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    wrap_up_id: Mapped[int] = mapped_column(ForeignKey("wrap_ups.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    status: Mapped[RatingStatus] = mapped_column(_enum(RatingStatus), default=RatingStatus.PENDING)
    score: Mapped[int | None] = mapped_column(Integer)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()


class FaqFeedback(Base):
    """Whether a bot answer to a self-service question helped, as the customer said (yes/no)."""

    __tablename__ = "faq_feedback"
    __table_args__ = (Index("ix_faq_feedback_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    intent: Mapped[str] = mapped_column(String(100))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobLease(Base):
    """Who runs a background job now: one row per job, taken while its lease has run out.

    Taking it is a conditional UPDATE (`… WHERE lease_until < now OR holder = me`) whose row
    count says who won, which works alike on SQLite and PostgreSQL.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column()


class AlertKind(enum.StrEnum):
    """What supervisors are told about, each at most once per subject."""

    AT_RISK = "at_risk"  # a response window of a handoff is mostly gone, unanswered
    BREACHED = "breached"  # a response window of a handoff is gone, unanswered
    FOLLOW_UP_OVERDUE = "follow_up_overdue"  # a wrap-up's follow-up is past its due date
    LANGUAGE_UNSERVED = "language_unserved"  # nobody available speaks the customer's language


class AlertTarget(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class Alert(Base):
    """An alert for supervisors; (kind, subject) is unique, so raising it twice is a no-op."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("kind", "subject", name="uq_alert_kind_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(_enum(AlertKind, length=30))
    # What it is about: "handoff:12", "follow_up:7" (the wrap-up's id).
    subject: Mapped[str] = mapped_column(String(60))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """An alert's outbox row per target (webhook, email): retried until sent or given up."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "target", name="uq_alert_delivery_target"),
        Index("ix_alert_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    target: Mapped[AlertTarget] = mapped_column(_enum(AlertTarget))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EpisodeOutcome(enum.StrEnum):
    """How an episode ended; `open` until it has."""

    OPEN = "open"
    ANSWERED = "answered"  # the assistant answered a self-service question, not by a fallback
    HANDED_OFF = "handed_off"  # a person took it over (closed at the resolution)
    ABANDONED = "abandoned"  # the customer left after the assistant did not understand
    NO_INQUIRY = "no_inquiry"  # small talk only: nothing was asked


class Episode(Base):
    """One interaction record: a handoff, or a bot-only stretch closed by a quiet period.

    A conversation lives for ever per address; its episodes are what was asked each time,
    with the outcome (`bot/episodes.py`). At most one episode of a conversation is open.
    """

    __tablename__ = "episodes"
    __table_args__ = (
        Index(
            "uq_episode_open",
            "conversation_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_episode_started", "started_at"),
        # The quiet-period job looks for open bot-only episodes by last activity.
        Index("ix_episode_quiet", "closed_at", "last_activity_at"),
        # "Came back on the same topic": the contact's recent episodes on one topic.
        Index("ix_episode_topic", "contact_id", "nature_of_inquiry", "topic_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    # SMS and WhatsApp are one contact: a return on the other channel counts as coming back.
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    started_at: Mapped[datetime] = mapped_column()
    last_activity_at: Mapped[datetime] = mapped_column()
    # The episode's first substantive topic (an intent of the catalogue), when it was asked,
    # and by which message.
    nature_of_inquiry: Mapped[str | None] = mapped_column(String(100))
    topic_at: Mapped[datetime | None] = mapped_column()
    topic_message_id: Mapped[int | None] = mapped_column(Integer)
    last_intent: Mapped[str | None] = mapped_column(String(100))
    # The assistant's last answer was a fallback (not understood, or out of scope).
    ended_on_fallback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # "Did this help?": the customer's last answer in the episode; None when not asked/answered.
    helped: Mapped[bool | None] = mapped_column(Boolean)
    # The customer asked about the same topic again within the come-back window.
    came_back_at: Mapped[datetime | None] = mapped_column()
    # A handoff episode: the handoff's request (handoffs.conversation_id + requested_at).
    handoff_requested_at: Mapped[datetime | None] = mapped_column()
    handoff_reason: Mapped[str | None] = mapped_column(String(50))
    wrap_up_id: Mapped[int | None] = mapped_column(ForeignKey("wrap_ups.id"))
    outcome: Mapped[EpisodeOutcome] = mapped_column(
        _enum(EpisodeOutcome), default=EpisodeOutcome.OPEN
    )
    closed_at: Mapped[datetime | None] = mapped_column()
