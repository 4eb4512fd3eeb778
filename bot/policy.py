"""The company's support policy, as numbers and words the core and the queue use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from bot import system_texts
from bot.handoff_reasons import HandoffReason
from bot.languages import DEFAULT_LANGUAGE, Language, is_supported
from bot.settings import setting_default
from bot.store.models import Priority
from bot.system_texts import TextKey


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


# WhatsApp's customer-service window: free-form messages only within 24 hours of the
# customer's last message, less a margin for the time a message takes to reach it. Outside it
# the Twilio sender uses the approved template; the console says so before a rep writes.
WHATSAPP_WINDOW = timedelta(hours=24) - timedelta(minutes=1)


def whatsapp_window_open(last_customer_message_at: datetime | None, now: datetime) -> bool:
    """Whether a free-form WhatsApp message may go now."""
    return last_customer_message_at is not None and now - last_customer_message_at < WHATSAPP_WINDOW


def at_risk_after(requested_at: datetime, due_at: datetime, fraction: float) -> datetime:
    """When an unanswered handoff counts as at risk: `fraction` of its window gone."""
    return requested_at + (due_at - requested_at) * fraction


def parse_priority(value: str | None) -> Priority:
    """The priority named by an action, `normal` when it names none we know."""
    try:
        return Priority(value or Priority.NORMAL)
    except ValueError:
        return Priority.NORMAL


# A customer writing a language the gateway does not answer in is told in both of the
# region's most widely read languages that a person will reply (bot/languages.py).
UNSUPPORTED_LANGUAGE_NOTICE = (Language.EN, Language.FR)


def notice_languages(language: str | None) -> tuple[str, ...]:
    """The languages the queue's notices go out in for a conversation's language."""
    if language is None or is_supported(language):
        return (language or DEFAULT_LANGUAGE,)
    return UNSUPPORTED_LANGUAGE_NOTICE


# Added to the queue's texts while the team is closed; {back_at} is when it opens again, as
# bot.response_clock.describe_opening writes it ("Monday 4 January at 08:00 (Jamaica time)").
# English only for now: to move into the system texts' catalogue with its translations.
TEAM_CLOSED_TEXT = "Our team is away just now; a person will be back on {back_at}."


def _with_closed_notice(text: str, back_at: str | None) -> str:
    return f"{text} {TEAM_CLOSED_TEXT.format(back_at=back_at)}" if back_at else text


def promise_text(
    reason: HandoffReason, hours: int, language: str | None = None, *, back_at: str | None = None
) -> str:
    """What the customer is told when their conversation goes to the queue, in the
    conversation's language (English when undecided; English and French when the gateway
    does not answer in it); `back_at`: when the team, closed now, opens again."""
    key = (
        TextKey.HANDOFF_PROMISE_ASSISTANT_UNAVAILABLE
        if reason == HandoffReason.ASSISTANT_UNAVAILABLE
        else TextKey.HANDOFF_PROMISE
    )
    languages = (
        UNSUPPORTED_LANGUAGE_NOTICE
        if reason == HandoffReason.UNSUPPORTED_LANGUAGE
        else notice_languages(language)
    )
    return _with_closed_notice(system_texts.in_languages(key, languages, hours=hours), back_at)


def queue_notice_text(
    hours: int, language: str | None = None, *, back_at: str | None = None
) -> str:
    """The one acknowledgement for messages written while waiting in the queue (in the
    languages of `notice_languages`); `back_at`: when the team, closed now, opens again."""
    return _with_closed_notice(
        system_texts.in_languages(TextKey.QUEUE_NOTICE, notice_languages(language), hours=hours),
        back_at,
    )
