"""Did the answer help? Yes/no buttons on the bot's answers to self-service questions.

The gateway, not the assistant's training data, asks: the bot's last message of a turn whose
intent is a self-service topic gets two buttons, "Yes, thanks" and "No". Their payloads name
the answer's intent, so the feedback is stored against the right question even when the
customer answers late. "Yes" is thanked; "No" offers a person, with a "Yes, connect me" button
that asks the assistant for a handoff with the reason `faq_not_helpful`. The words are the
conversation's language's (locales/system_texts.yml); the payloads are the same in every one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import system_texts
from bot.handoff_reasons import HandoffReason
from bot.messages import Button, Reply, SenderKind
from bot.store.models import FaqFeedback
from bot.system_texts import TextKey

# The intents the assistant answers from data/responses/faq.yml. Small talk, fallback and the
# intents that hand off to a person are not self-service answers and get no buttons.
SELF_SERVICE_INTENTS = frozenset(
    {
        "create_account",
        "edit_account",
        "delete_account",
        "recover_password",
        "registration_problems",
        "switch_account",
        "place_order",
        "cancel_order",
        "change_order",
        "track_order",
        "delivery_options",
        "delivery_period",
        "change_shipping_address",
        "set_up_shipping_address",
        "check_cancellation_fee",
        "check_payment_methods",
        "payment_issue",
        "check_invoice",
        "get_invoice",
        "check_refund_policy",
        "get_refund",
        "track_refund",
        "contact_customer_service",
        "review",
        "newsletter_subscription",
    }
)

FEEDBACK_INTENT = "faq_feedback"
CONNECT_PAYLOAD = "/contact_human_agent" + json.dumps(
    {"handoff_reason": HandoffReason.FAQ_NOT_HELPFUL.value}
)
# "No, thanks" to the offer of a person: the assistant asks whether there is anything else.
DECLINE_PAYLOAD = "/deny"
_PAYLOAD = re.compile(r"^/faq_feedback(\{.*\})$")


def feedback_payload(intent: str, *, helpful: bool) -> str:
    body = json.dumps({"helpful": "yes" if helpful else "no", "intent": intent})
    return f"/{FEEDBACK_INTENT}{body}"


def feedback_buttons(intent: str, language: str | None = None) -> tuple[Button, ...]:
    yes = system_texts.text(TextKey.FAQ_HELPFUL_YES_BUTTON, language)
    no = system_texts.text(TextKey.FAQ_HELPFUL_NO_BUTTON, language)
    return (
        Button(title=yes, payload=feedback_payload(intent, helpful=True)),
        Button(title=no, payload=feedback_payload(intent, helpful=False)),
    )


def with_helpful_question(
    replies: Sequence[Reply],
    *,
    intent: str | None,
    handing_off: bool,
    language: str | None = None,
    asking: bool = False,
) -> list[Reply]:
    """The bot's replies, the last one asking whether it helped when it answered a
    self-service question (and offered no choices of its own, nor asked a question of its own:
    `asking`, e.g. for the order number)."""
    out = list(replies)
    if (
        not out
        or handing_off
        or asking
        or intent not in SELF_SERVICE_INTENTS
        or out[-1].buttons
        or out[-1].sender_kind != SenderKind.BOT
    ):
        return out
    out[-1] = replace(out[-1], buttons=feedback_buttons(intent, language))
    return out


def parse_feedback(said: str) -> tuple[str, bool] | None:
    """(intent, helpful) from a feedback button's payload; None for anything else."""
    found = _PAYLOAD.match(said.strip())
    if not found:
        return None
    try:
        body = json.loads(found.group(1))
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    intent, helpful = body.get("intent"), body.get("helpful")
    if intent not in SELF_SERVICE_INTENTS or helpful not in ("yes", "no"):
        return None
    assert isinstance(intent, str)
    return intent, helpful == "yes"


def answer(helpful: bool, *, promise_hours: int, language: str | None = None) -> Reply:
    """Thanks for a yes; for a no, the offer of a person (in `language`)."""
    if helpful:
        return Reply(
            text=system_texts.text(TextKey.FAQ_HELPFUL_THANKS, language),
            sender_kind=SenderKind.SYSTEM,
        )
    return Reply(
        text=system_texts.text(TextKey.FAQ_OFFER_PERSON, language, hours=promise_hours),
        sender_kind=SenderKind.SYSTEM,
        buttons=(
            Button(
                title=system_texts.text(TextKey.FAQ_CONNECT_BUTTON, language),
                payload=CONNECT_PAYLOAD,
            ),
            Button(
                title=system_texts.text(TextKey.FAQ_DECLINE_BUTTON, language),
                payload=DECLINE_PAYLOAD,
            ),
        ),
    )


async def take_faq_feedback(
    session: AsyncSession,
    *,
    conversation_id: int,
    said: str,
    now: datetime,
    promise_hours: int,
    language: str | None = None,
) -> Reply | None:
    """Store `said` when it is a feedback button and return the answer; None otherwise
    (the message then goes to the assistant as usual; caller commits)."""
    parsed = parse_feedback(said)
    if parsed is None:
        return None
    intent, helpful = parsed
    session.add(
        FaqFeedback(conversation_id=conversation_id, intent=intent, helpful=helpful, created_at=now)
    )
    return answer(helpful, promise_hours=promise_hours, language=language)
