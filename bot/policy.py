"""The company's support policy, as numbers and words the queue uses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.store.models import Priority

# Internal targets by priority; the customer is always promised the policy's 24 hours.
DEFAULT_RESPONSE_TARGETS: Mapping[Priority, timedelta] = {
    Priority.URGENT: timedelta(hours=1),
    Priority.HIGH: timedelta(hours=4),
    Priority.NORMAL: timedelta(hours=24),
    Priority.LOW: timedelta(hours=24),
}
# The targets in force: `set_response_targets` updates this dict in place at start-up
# (SLA_HOURS_* settings), so every reader of it, the escalation included, sees the same table.
RESPONSE_TARGETS: dict[Priority, timedelta] = dict(DEFAULT_RESPONSE_TARGETS)
AT_RISK_FRACTION = 0.75


def set_response_targets(hours: Mapping[Priority, float]) -> None:
    """Make `hours` (by priority) the response targets of this process."""
    RESPONSE_TARGETS.update({p: timedelta(hours=hours[p]) for p in Priority})


def response_target(priority: Priority | None) -> timedelta:
    return RESPONSE_TARGETS[priority or Priority.NORMAL]


def at_risk_after(
    requested_at: datetime, due_at: datetime, fraction: float = AT_RISK_FRACTION
) -> datetime:
    """When an unanswered handoff counts as at risk: `fraction` of its window gone."""
    return requested_at + (due_at - requested_at) * fraction


# Why a conversation went to a person; the queue shows these names.
HANDOFF_REASONS = frozenset(
    {
        "customer_request",
        "repeated_fallback",
        "complaint",
        "payment_dispute",
        "account_compromised",
        "assistant_unavailable",
        "faq_not_helpful",
        "routing_failed",
    }
)


def parse_priority(value: str | None) -> Priority:
    """The priority named by an action, `normal` when it names none we know."""
    try:
        return Priority(value or Priority.NORMAL)
    except ValueError:
        return Priority.NORMAL


def promise_text(reason: str, hours: int) -> str:
    """What the customer is told when their conversation goes to the queue."""
    if reason == "assistant_unavailable":
        return (
            "Sorry, our assistant is unavailable right now. Your message is saved and a "
            f"representative will reply here within {hours} hours."
        )
    return (
        "Thank you. I've passed this to our support team, and a representative will reply "
        f"here within {hours} hours."
    )


def queue_notice_text(hours: int) -> str:
    """The one acknowledgement for messages written while waiting in the queue."""
    return (
        "Thanks, I've added this to your request. A representative will reply here within "
        f"{hours} hours."
    )
