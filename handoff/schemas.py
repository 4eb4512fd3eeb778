"""What the rep API takes and returns, a small family per entity (`XCreate`, `XPublic`, …)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.messages import Direction
from bot.store.models import InteractionChannel, Presence, Role

# The one limit on what a person writes: replies, notes, wrap-ups' actions, canned texts.
MAX_TEXT_CHARS = 4000
# A console form takes up to twice as much, so an overlong text reaches the service's check and
# the rep reads "Keep the reply under 4,000 characters" rather than a bare 422.
FORM_TEXT_CAP = 2 * MAX_TEXT_CHARS
_TEXT = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# People and access ---------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=1024)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_at: datetime


class RepBrief(_Public):
    id: int
    username: str
    display_name: str


class RepPublic(RepBrief):
    role: Role


class PresencePublic(_Public):
    presence: Presence
    presence_changed_at: datetime | None
    last_seen_at: datetime | None


class PresenceUpdate(BaseModel):
    presence: Presence


class RepRoutingPublic(RepPublic):
    """What a rep serves, and how much they hold now."""

    active: bool
    presence: Presence
    last_seen_at: datetime | None
    teams: list[str]
    languages: list[str]
    max_chat: int  # their limit (their own, else the default)
    max_messaging: int
    open_chat: int
    open_messaging: int


class RepRoutingUpdate(BaseModel):
    """What an admin changes; a field left out stays as it is (0 as a limit: the default)."""

    teams: list[str] | None = Field(default=None, max_length=20)
    languages: list[str] | None = Field(default=None, max_length=20)
    max_chat: int | None = Field(default=None, ge=0, le=100)
    max_messaging: int | None = Field(default=None, ge=0, le=100)


class TeamPublic(BaseModel):
    key: str
    name: str
    auto_assign: bool
    members: int  # active reps in the team
    available: int  # of them, available now
    waiting: int  # conversations waiting in tier 1 for the team


# The queue -----------------------------------------------------------------------------------


class QueueItemPublic(BaseModel):
    """A conversation as the queue shows it."""

    id: int
    channel: str
    # The conversation's language ("es", "ht"; "pap", "und": one the assistant does not answer
    # in), None while undecided.
    language: str | None
    customer: str  # display name, else the address on the channel
    state: str
    tier: int | None
    priority: str | None
    reason: str | None
    nature_of_inquiry: str | None
    requested_at: datetime | None
    waiting_seconds: int | None
    due_at: datetime | None
    overdue: bool
    assigned_rep: RepBrief | None
    team: str | None = None  # the team that serves it (handoff/routing.yml)
    # In a language no active rep speaks: supervisors see it flagged.
    language_unserved: bool = False


# A conversation ------------------------------------------------------------------------------


class LookupPublic(BaseModel):
    """What the bot checked and looked up on the platform for the customer before handing over.

    `verified_by`: how the customer proved the order is theirs ("channel_phone": the SMS or
    WhatsApp number is the order's; "one_time_code": a code sent to `code_sent_to`, the
    contact on file, masked), or None when they did not. `record`: the order, refund or invoice
    as the customer was shown it (kind, order number, status, dates), or None.
    """

    verified_order: str | None
    verified_by: str | None
    code_sent_to: str | None
    failed_attempts: int
    record: dict[str, Any] | None


class HandoffPacketPublic(BaseModel):
    """What the bot knew when it handed over: last intent and confidence, reason, slots, summary,
    and what it verified and looked up (`lookup`, None when it looked nothing up)."""

    intent: str | None
    confidence: float | None
    reason: str | None
    priority: str | None
    language: str | None  # the conversation's, as the customer writes it
    slots: dict[str, Any]
    summary: str | None
    lookup: LookupPublic | None = None


class ButtonPublic(BaseModel):
    title: str
    payload: str


class MessagePublic(BaseModel):
    id: int
    created_at: datetime
    direction: str
    sender_kind: str
    rep: RepBrief | None
    text: str
    buttons: list[ButtonPublic]
    attachments: list[dict[str, Any]]
    intent: str | None
    intent_confidence: float | None
    # Customer messages: the language detected in it ("und": unsure; None: no words).
    language: str | None
    # Outbound only: the worst status of its parts (pending, sending, sent, delivered, failed …).
    delivery_status: str | None


class AuditEventPublic(BaseModel):
    id: int
    created_at: datetime
    actor: str
    actor_name: str
    from_state: str | None
    to_state: str | None
    reason: str


class NoteCreate(BaseModel):
    text: str = _TEXT


class NotePublic(BaseModel):
    id: int
    created_at: datetime
    rep: RepBrief | None
    text: str


class ReplyCreate(BaseModel):
    text: str = _TEXT


class ReplyPublic(BaseModel):
    message_id: int
    delivery_status: str | None


class EscalationCreate(BaseModel):
    reason: str = Field(min_length=3, max_length=400)


class ReassignmentCreate(BaseModel):
    username: str = Field(min_length=1, max_length=50, description="the rep to give it to")


class WrapUpCreate(BaseModel):
    """The record a rep completes to resolve a conversation."""

    nature_of_inquiry: str = Field(min_length=1, max_length=100)
    actions_taken: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    follow_up_required: bool
    follow_up_due: date | None = None
    follow_up_owner: str | None = Field(
        default=None, max_length=50, description="username of the rep who follows up"
    )

    @model_validator(mode="after")
    def _follow_up_needs_due_date_and_owner(self) -> Self:
        if self.follow_up_required:
            if self.follow_up_due is None or not self.follow_up_owner:
                raise ValueError("a follow-up needs a due date and an owner")
        else:
            self.follow_up_due = None
            self.follow_up_owner = None
        return self


class WrapUpPublic(BaseModel):
    id: int
    created_at: datetime
    rep: RepBrief | None
    nature_of_inquiry: str
    actions_taken: str
    follow_up_required: bool
    follow_up_due: date | None
    follow_up_owner: RepBrief | None


class RatingPublic(_Public):
    id: int
    wrap_up_id: int
    rep_id: int
    status: str
    score: int | None
    asked_at: datetime
    answered_at: datetime | None


class ConversationReadPublic(BaseModel):
    """A person read a conversation."""

    id: int
    conversation_id: int
    rep: RepBrief | None
    via: str
    created_at: datetime


class ReplyWindowPublic(BaseModel):
    """Whether a free-form reply can go now; on WhatsApp it may have to be the template."""

    open: bool
    closes_at: datetime | None  # WhatsApp: 24 hours after the customer's last message
    template: bool  # outside the window the approved template carries the reply
    message: str | None  # what the console shows before the rep writes


class ConversationPublic(BaseModel):
    """Everything a rep needs: the queue facts, the handoff packet, transcript, trail, notes."""

    summary: QueueItemPublic
    address: str
    phone: str | None
    handoff_requested_at: datetime | None
    first_response_at: datetime | None
    packet: HandoffPacketPublic
    transcript: list[MessagePublic]
    events: list[AuditEventPublic]
    notes: list[NotePublic]
    wrap_ups: list[WrapUpPublic]
    ratings: list[RatingPublic]
    contact_id: int
    reply_window: ReplyWindowPublic


# Logged calls and emails, contacts and their history ----------------------------------------


class InteractionCreate(BaseModel):
    """A phone call or an email a rep records: who, which way, when, and the record."""

    channel: InteractionChannel
    direction: Direction
    occurred_at: datetime | None = Field(default=None, description="when; now if not given")
    contact_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the customer, picked from a search"
    )
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    nature_of_inquiry: str = Field(
        min_length=1, max_length=100, description="a catalogue topic (`track_order`) or free text"
    )
    actions_taken: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    follow_up_required: bool = False
    follow_up_due: date | None = None
    follow_up_owner: str | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _follow_up_needs_due_date_and_owner(self) -> Self:
        if self.follow_up_required:
            if self.follow_up_due is None or not self.follow_up_owner:
                raise ValueError("a follow-up needs a due date and an owner")
        else:
            self.follow_up_due = None
            self.follow_up_owner = None
        return self


class InteractionPublic(BaseModel):
    id: int
    contact_id: int
    channel: str
    direction: str
    occurred_at: datetime
    phone: str | None
    email: str | None
    name: str | None
    nature_of_inquiry: str
    actions_taken: str
    follow_up_required: bool
    follow_up_due: date | None
    follow_up_owner: RepBrief | None
    rep: RepBrief | None
    created_at: datetime


class ContactConversationBrief(BaseModel):
    id: int
    channel: str
    address: str  # as people see it: a web visitor's label, never the session id
    state: str
    last_message_at: datetime | None


class ContactPublic(BaseModel):
    """A customer as a search finds them, with where they wrote from."""

    id: int
    name: str | None
    phone: str | None
    email: str | None
    conversations: list[ContactConversationBrief]
    logged_interactions: int


class HistoryItemPublic(BaseModel):
    """One entry of a customer's history: a conversation on a channel, or a logged call/email,
    with its record (nature of inquiry, and the latest wrap-up's or the log's actions)."""

    kind: str  # "conversation" or "interaction"
    id: int
    channel: str
    direction: str | None  # logged ones: inbound (the customer called) or outbound
    at: datetime  # last activity, or when the call/email happened
    address: str | None
    state: str | None
    nature_of_inquiry: str | None
    actions_taken: str | None
    follow_up_required: bool
    follow_up_due: date | None
    follow_up_done: bool
    rep: RepBrief | None


class ContactHistoryPublic(BaseModel):
    contact: ContactPublic
    history: list[HistoryItemPublic]  # newest first


# Canned responses ----------------------------------------------------------------------------


class CannedResponseCreate(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    text: str = _TEXT


class CannedResponseUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)


class CannedResponsePublic(_Public):
    id: int
    title: str
    text: str
    updated_at: datetime
