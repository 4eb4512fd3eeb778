"""The customer record: contacts, conversations, messages, deliveries (the outbox), audit events."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
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


class TurnStatus(enum.StrEnum):
    """Where a customer message is in its processing (work is done from the store)."""

    PENDING = "pending"  # stored, not yet routed
    DONE = "done"  # routed: answered by the bot, or given to the human queue


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (first try, retry, or a web chat customer offline)
    SENDING = "sending"  # claimed by a sender; a lease protects against a crash mid-send
    SENT = "sent"  # accepted by the vendor (or emitted to a connected web chat)
    DELIVERED = "delivered"  # the vendor reported delivery
    UNDELIVERED = "undelivered"
    FAILED = "failed"  # permanent: not retried


def _enum(e: type[enum.Enum]) -> Enum:
    # Store values as strings (no native enum types): adding a member needs no migration.
    return Enum(e, native_enum=False, length=20, values_callable=lambda m: [x.value for x in m])


class Contact(Base):
    """A customer; one contact may write on several channels (SMS and WhatsApp share a phone)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    # STOP on SMS/WhatsApp: nothing more is sent until START.
    opted_out_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversations: Mapped[list[Conversation]] = relationship(back_populates="contact")


class Conversation(Base):
    """A customer's thread on one channel identity, with its state and escalation flag."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_conversation_channel_address"),
        Index("ix_conversation_queue", "state", "priority_rank", "due_at"),
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
    due_at: Mapped[datetime | None] = mapped_column()
    handoff_requested_at: Mapped[datetime | None] = mapped_column()
    handoff_context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # One acknowledgement while waiting in the queue, not one per message.
    queue_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column()
    # WhatsApp's customer-service window runs 24 hours from the customer's last message.
    last_customer_message_at: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship(back_populates="conversations")

    @property
    def rasa_sender_id(self) -> str:
        """The id Rasa's tracker knows this conversation by (Rasa knows nothing of channels)."""
        return f"conversation-{self.id}"


class Message(Base):
    """One message in a conversation, either way; customer messages carry the predicted intent."""

    __tablename__ = "messages"
    __table_args__ = (
        # A vendor delivery id seen before is a duplicate delivery (webhook retry).
        UniqueConstraint("channel", "external_id", name="uq_message_channel_external_id"),
        Index("ix_message_conversation", "conversation_id", "id"),
        Index("ix_message_turn_pending", "turn_status"),
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
    turn_status: Mapped[TurnStatus | None] = mapped_column(_enum(TurnStatus))
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
