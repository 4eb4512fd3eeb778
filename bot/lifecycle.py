"""Conversation states and the one place they change.

```
bot ──(handoff)──▶ queued ──(claim)──▶ assigned ──(escalate | SLA breach)──▶ escalated
assigned/escalated ──(resolve)──▶ resolved ──(customer writes again)──▶ bot
resolved/bot ──(a rep reopens it to carry out a follow-up)──▶ assigned
```
Every change goes through `transition`, which refuses illegal moves and writes an audit event.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import AuditEvent, Conversation, ConversationState, utcnow


class IllegalTransition(Exception):
    """A state change the lifecycle does not allow."""

    def __init__(self, from_state: ConversationState, to_state: ConversationState) -> None:
        super().__init__(f"a conversation cannot go from {from_state} to {to_state}")
        self.from_state = from_state
        self.to_state = to_state


class Actor(enum.StrEnum):
    """Who changed a state, when it was not a named rep."""

    SYSTEM = "system"
    BOT = "bot"
    CUSTOMER = "customer"


S = ConversationState
LEGAL_TRANSITIONS: frozenset[tuple[ConversationState, ConversationState]] = frozenset(
    {
        (S.BOT, S.QUEUED),  # handoff requested
        (S.RESOLVED, S.QUEUED),  # handoff requested right after a resolution
        (S.QUEUED, S.ASSIGNED),  # a rep claims
        (S.QUEUED, S.ESCALATED),  # SLA breached while waiting
        (S.ASSIGNED, S.QUEUED),  # a rep releases
        (S.ASSIGNED, S.ESCALATED),  # a rep escalates, or the SLA is breached
        (S.ESCALATED, S.ASSIGNED),  # a supervisor takes over or reassigns
        (S.ASSIGNED, S.ASSIGNED),  # a supervisor reassigns to another rep
        (S.ASSIGNED, S.RESOLVED),
        (S.ESCALATED, S.RESOLVED),
        (S.RESOLVED, S.BOT),  # the customer writes again
        # A rep carries out a follow-up: writes first, on the customer's channel. From `bot`
        # too, since a customer who wrote again after the resolution put it back there.
        (S.RESOLVED, S.ASSIGNED),
        (S.BOT, S.ASSIGNED),
    }
)

# States in which a person, not the bot, owns the conversation (the escalation flag is up).
HUMAN_STATES = frozenset({S.QUEUED, S.ASSIGNED, S.ESCALATED})


def transition(
    session: AsyncSession,
    conversation: Conversation,
    to_state: ConversationState,
    *,
    actor: str,
    reason: str,
    at: datetime | None = None,
) -> AuditEvent:
    """Move `conversation` to `to_state` and record who did it and why (caller commits)."""
    from_state = conversation.state
    if (from_state, to_state) not in LEGAL_TRANSITIONS:
        raise IllegalTransition(from_state, to_state)
    when = at or utcnow()
    conversation.state = to_state
    conversation.escalated = to_state in HUMAN_STATES
    conversation.updated_at = when
    event = AuditEvent(
        conversation_id=conversation.id,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        created_at=when,
    )
    session.add(event)
    return event
