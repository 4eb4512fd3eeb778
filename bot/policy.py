"""The company's support policy, as numbers and words the core and the queue use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from bot.handoff_reasons import HandoffReason
from bot.languages import is_supported
from bot.settings import setting_default
from bot.store.models import Priority


@dataclass(frozen=True)
class ResponseTargets:
    """Internal response windows by priority; the customer is always promised the policy's 24
    hours. Built once from the settings (SLA_HOURS_*) and passed to whoever needs them."""

    by_priority: Mapping[Priority, timedelta]

    @classmethod
    def from_hours(
        cls, *, urgent: float, high: float, normal: float, low: float
    ) -> ResponseTargets:
        hours = {
            Priority.URGENT: urgent,
            Priority.HIGH: high,
            Priority.NORMAL: normal,
            Priority.LOW: low,
        }
        return cls(MappingProxyType({p: timedelta(hours=h) for p, h in hours.items()}))

    @classmethod
    def defaults(cls) -> ResponseTargets:
        """The targets of the settings' defaults (SLA_HOURS_*)."""
        return cls.from_hours(
            urgent=setting_default("SLA_HOURS_URGENT"),
            high=setting_default("SLA_HOURS_HIGH"),
            normal=setting_default("SLA_HOURS_NORMAL"),
            low=setting_default("SLA_HOURS_LOW"),
        )

    def for_priority(self, priority: Priority | None) -> timedelta:
        return self.by_priority[priority or Priority.NORMAL]


def at_risk_after(requested_at: datetime, due_at: datetime, fraction: float) -> datetime:
    """When an unanswered handoff counts as at risk: `fraction` of its window gone."""
    return requested_at + (due_at - requested_at) * fraction


def parse_priority(value: str | None) -> Priority:
    """The priority named by an action, `normal` when it names none we know."""
    try:
        return Priority(value or Priority.NORMAL)
    except ValueError:
        return Priority.NORMAL


def promise_text(reason: HandoffReason, hours: int) -> str:
    """What the customer is told when their conversation goes to the queue."""
    if reason == HandoffReason.ASSISTANT_UNAVAILABLE:
        return (
            "Sorry, our assistant is unavailable right now. Your message is saved and a "
            f"representative will reply here within {hours} hours."
        )
    english = (
        "Thank you. I've passed this to our support team, and a representative will reply "
        f"here within {hours} hours."
    )
    if reason == HandoffReason.UNSUPPORTED_LANGUAGE:
        # A language the assistant does not answer in: the region's two widest languages.
        french = (
            "Merci. J'ai transmis votre message à notre équipe d'assistance : un représentant "
            f"vous répondra ici dans les {hours} heures."
        )
        return in_english_and_french(english, french)
    return english


def queue_notice_text(hours: int, *, language: str | None = None) -> str:
    """The one acknowledgement for messages written while waiting in the queue.

    `language`: the conversation's; one the assistant does not answer in gets English and
    French, as its handoff promise did.
    """
    english = (
        "Thanks, I've added this to your request. A representative will reply here within "
        f"{hours} hours."
    )
    if language is None or is_supported(language):
        return english
    french = (
        "Merci, j'ai ajouté ceci à votre demande. Un représentant vous répondra ici dans les "
        f"{hours} heures."
    )
    return in_english_and_french(english, french)


def in_english_and_french(english: str, french: str) -> str:
    """One text for a customer whose language the assistant does not answer in."""
    return f"{english}\n\n{french}"
