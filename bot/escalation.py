"""Handing a conversation from the bot to the human queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff_reasons import HandoffReason
from bot.lifecycle import transition
from bot.messages import Reply, SenderKind
from bot.policy import ResponseTargets, parse_priority, promise_text
from bot.response_clock import ResponseClock, describe_opening
from bot.store.models import DEFAULT_TEAM, Conversation, ConversationState

# Which team serves a handoff, by its reason and topic (the queue's routing table, given by the
# composition root: the core knows no teams).
TeamChooser = Callable[..., str]


def request_handoff(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: HandoffReason,
    priority: str | None,
    context: dict[str, Any],
    actor: str,
    now: datetime,
    promise_hours: int,
    targets: ResponseTargets,
    choose_team: TeamChooser | None = None,
    clock: ResponseClock | None = None,
) -> Reply:
    """Queue `conversation` for a person, escalation flag up; return what to tell the customer.

    `context` is the handoff packet's bot part (last intent and confidence, slots, summary);
    the transcript is read from the log when a rep opens the conversation. The customer is
    told in the conversation's language (bot/policy.py `promise_text`). The due time counts
    the team's business hours (`clock`; without one, every hour counts); while the team is
    closed the customer is also told when a person will be back.
    """
    clock = clock or ResponseClock(first_response=targets)
    level = parse_priority(priority)
    transition(
        session,
        conversation,
        ConversationState.QUEUED,
        actor=actor,
        reason=f"handoff: {reason.value}",
        at=now,
    )
    conversation.escalation_reason = reason.value
    conversation.priority = level
    conversation.priority_rank = level.rank
    conversation.tier = 1
    conversation.handoff_requested_at = now
    conversation.handoff_context = context
    conversation.queue_notice_sent = False
    conversation.unserved_language_at = None
    if choose_team is not None:
        topic = conversation.nature_of_inquiry or context.get("intent")
        conversation.team = choose_team(reason=reason.value, topic=topic)
    team = conversation.team or DEFAULT_TEAM
    conversation.due_at = clock.first_response_due(team, level, now)
    back_at = clock.back_at(team, now)
    return Reply(
        text=promise_text(
            reason,
            promise_hours,
            conversation.language,
            back_at=describe_opening(back_at) if back_at else None,
        ),
        sender_kind=SenderKind.SYSTEM,
    )
