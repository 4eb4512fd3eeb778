"""What a lookup asks before it can answer: the order number, and on a channel that proves
nothing about the customer (web chat, Telegram), a one-time code.

A lookup that lacks either starts `lookup_form` (actions/lookups.py). The form asks for the
order number if there is none, then for the email or phone on file for that order; the
platform sends a one-time code to it (docs/platform-api.yaml, "verifications") and the
customer types the code back. The platform keeps the code and compares it in constant time;
the code never reaches a slot or a log here: the gateway masks it in the message log and
hands it over in the turn's metadata (`one_time_code`, bot/router.py).

Limits per conversation: CODES_PER_HOUR codes sent, MAX_FAILED_ATTEMPTS wrong contacts or codes.
A code is good for the time the platform says (10 minutes by the contract). Once the form has
the code approved, or has refused, `action_answer_lookup` answers with the pending lookup.
"""

import asyncio
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import HANDOFF_BY_INTENT
from actions.lookups import LOOKUPS, order_digits
from actions.platform import PlatformUnavailable, TooManyCodes, platform_client
from actions.verification import BY_ONE_TIME_CODE, channel_phone, verified_by_code

logger = logging.getLogger(__name__)

CODES_PER_HOUR = 3
MAX_FAILED_ATTEMPTS = 5
CODE_METADATA_KEY = "one_time_code"
# What `verification_code` holds once the code is approved: the form needs a value, and the
# code itself is kept nowhere.
CODE_APPROVED = "approved"
VERIFICATION_SLOTS = ["verification_contact", "verification_code"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"(?<!\d)(\d{4,8})(?!\d)")
_PLATFORM_DEADLINE = 2.8


class Refusal:
    """Why the form stopped without a verified customer (`lookup_refusal`)."""

    NO_NUMBER = "no_number"
    NO_CONTACT = "no_contact"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    TOO_MANY_CODES = "too_many_codes"
    EXPIRED = "expired"
    PLATFORM_UNAVAILABLE = "platform_unavailable"

    # Refusals whose own message already tells the customer where to look instead.
    ALREADY_EXPLAINED = {TOO_MANY_ATTEMPTS, TOO_MANY_CODES, EXPIRED}
    # The reply was no answer to the form's question: maybe a request of its own.
    LEFT_THE_QUESTION = {NO_NUMBER, NO_CONTACT}


# Understood well enough to act on a reply as a new request rather than as "no answer".
OTHER_REQUEST_CONFIDENCE = 0.7
# Intents that are no request of their own (small talk, "not ours", "not sure").
NOT_A_REQUEST = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "out_of_scope",
        "nlu_fallback",
    }
)


def other_request(tracker: Tracker, domain: Dict[Text, Any], asked_by: Text) -> Optional[Text]:
    """The action answering the customer's reply as a request of its own (a person, another
    topic), or None when it is no clear request or the same one the form was asking for."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence") or 0.0
    if not name or name in NOT_A_REQUEST or confidence < OTHER_REQUEST_CONFIDENCE:
        return None
    if name in HANDOFF_BY_INTENT:
        return "action_handoff_to_human"
    action = f"action_{name}"
    if action == asked_by:
        return None
    if action in LOOKUPS:
        return action
    response = f"utter_{name}"
    return response if response in (domain.get("responses") or {}) else None


def contact_on_file(text: object) -> Optional[Text]:
    """The email (lower-cased) or phone (E.164) the customer typed, or None if neither."""
    if not isinstance(text, str):
        return None
    candidate = text.strip().strip(".").strip()
    if _EMAIL.match(candidate):
        return candidate.lower()
    if re.fullmatch(r"[+\d\s().\-]{7,25}", candidate):
        digits = re.sub(r"\D", "", candidate)
        if 7 <= len(digits) <= 15:
            return f"+{digits}"
    return None


def typed_code(tracker: Tracker) -> Optional[Text]:
    """The one-time code the customer typed: from the gateway's metadata (the stored text has
    it masked), else from the text itself (a client that talks to Rasa directly)."""
    message = tracker.latest_message or {}
    metadata = message.get("metadata") or {}
    value = metadata.get(CODE_METADATA_KEY)
    if isinstance(value, str) and value.isdigit():
        return value
    found = _CODE.search(str(message.get("text") or ""))
    return found.group(1) if found else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _expired(expires_at: Optional[Text]) -> bool:
    if not expires_at:
        return True
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    return when <= _now()


class ValidateLookupForm(FormValidationAction):
    """Checks each answer to lookup_form's questions, and has the platform send and check codes.

    Slots: `order_number`, `verification_contact`, `verification_code` (the form's), and
    `verification_id`, `verification_expires_at`, `verification_codes_sent`,
    `verification_attempts`, `lookup_refusal`, `verified_order`, `verification_method`.
    Responses: `utter_order_number_not_understood`, `utter_verification_contact_not_understood`,
    `utter_verification_contact_not_matched`, `utter_verification_code_sent`,
    `utter_verification_code_wrong`, `utter_verification_code_expired`,
    `utter_verification_too_many_attempts`, `utter_verification_too_many_codes`,
    `utter_verified`.
    """

    def name(self) -> Text:
        return "validate_lookup_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if tracker.get_slot("lookup_refusal"):
            return []
        number = order_digits(tracker.get_slot("order_number"))
        if number is not None and (
            channel_phone(tracker) is not None or verified_by_code(tracker, number)
        ):
            return ["order_number"]
        return ["order_number", *VERIFICATION_SLOTS]

    async def extract_verification_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "verification_code":
            return {}
        # Always a value, so the form checks it (and says so) rather than stepping aside.
        return {"verification_code": typed_code(tracker) or ""}

    async def validate_order_number(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the lookup that started the form: nothing to check
            return {"order_number": None}
        number = order_digits(value)
        if number is not None:
            return {"order_number": number}
        if re.search(r"\d", str(value or "")):
            dispatcher.utter_message(response="utter_order_number_not_understood")
            return {"order_number": None}
        # No digits at all ("I don't know it"): the pointer answer tells where to find it.
        return {"order_number": None, "lookup_refusal": Refusal.NO_NUMBER}

    async def validate_verification_contact(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the lookup that started the form: nothing to check
            return {"verification_contact": None}
        contact = contact_on_file(value)
        if contact is None and not re.search(r"[\d@]", str(value or "")):
            # Neither an email nor a phone, not even mistyped ("never mind", another question):
            # the customer would rather not, and the pointer answer tells where to look.
            return {"verification_contact": None, "lookup_refusal": Refusal.NO_CONTACT}
        if contact is None:
            dispatcher.utter_message(response="utter_verification_contact_not_understood")
            return {"verification_contact": None, **self._failed(dispatcher, tracker)}
        now = _now()
        sent = [
            t for t in tracker.get_slot("verification_codes_sent") or [] if _within_hour(t, now)
        ]
        if len(sent) >= CODES_PER_HOUR:
            dispatcher.utter_message(response="utter_verification_too_many_codes")
            return {"verification_contact": None, "lookup_refusal": Refusal.TOO_MANY_CODES}
        client = platform_client()
        number = order_digits(tracker.get_slot("order_number"))
        if client is None or number is None:
            return {"verification_contact": None, "lookup_refusal": Refusal.PLATFORM_UNAVAILABLE}
        try:
            code = await asyncio.wait_for(client.send_code(number, contact), _PLATFORM_DEADLINE)
        except TooManyCodes:
            dispatcher.utter_message(response="utter_verification_too_many_codes")
            return {"verification_contact": None, "lookup_refusal": Refusal.TOO_MANY_CODES}
        except (PlatformUnavailable, asyncio.TimeoutError):
            logger.info("verification.degraded step=send_code")
            return {"verification_contact": None, "lookup_refusal": Refusal.PLATFORM_UNAVAILABLE}
        if code is None:
            # One answer whether the order is unknown or the contact is not its own.
            dispatcher.utter_message(
                response="utter_verification_contact_not_matched", order_number=number
            )
            return {"verification_contact": None, **self._failed(dispatcher, tracker)}
        logger.info("verification.code_sent")
        dispatcher.utter_message(response="utter_verification_code_sent", sent_to=code.sent_to)
        return {
            # The masked form from here on: the handoff packet shows where the code went.
            "verification_contact": code.sent_to,
            "verification_id": code.verification_id,
            "verification_expires_at": code.expires_at,
            "verification_codes_sent": [*sent, now.isoformat()],
        }

    async def validate_verification_code(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the lookup that started the form: nothing to check
            return {"verification_code": None}
        if value == CODE_APPROVED:
            return {"verification_code": CODE_APPROVED}
        if _expired(tracker.get_slot("verification_expires_at")):
            dispatcher.utter_message(response="utter_verification_code_expired")
            return {"verification_code": None, "lookup_refusal": Refusal.EXPIRED}
        code = str(value or "")
        if not code.isdigit():
            dispatcher.utter_message(response="utter_verification_code_wrong")
            return {"verification_code": None, **self._failed(dispatcher, tracker)}
        client = platform_client()
        if client is None:
            return {"verification_code": None, "lookup_refusal": Refusal.PLATFORM_UNAVAILABLE}
        try:
            verdict = await asyncio.wait_for(
                client.check_code(str(tracker.get_slot("verification_id")), code),
                _PLATFORM_DEADLINE,
            )
        except (PlatformUnavailable, asyncio.TimeoutError):
            logger.info("verification.degraded step=check_code")
            return {"verification_code": None, "lookup_refusal": Refusal.PLATFORM_UNAVAILABLE}
        logger.info("verification.checked verdict=%s", verdict)
        if verdict == "approved":
            dispatcher.utter_message(response="utter_verified")
            return {
                "verification_code": CODE_APPROVED,
                "verified_order": order_digits(tracker.get_slot("order_number")),
                "verification_method": BY_ONE_TIME_CODE,
            }
        if verdict == "expired":
            dispatcher.utter_message(response="utter_verification_code_expired")
            return {"verification_code": None, "lookup_refusal": Refusal.EXPIRED}
        if verdict == "too_many_attempts":
            dispatcher.utter_message(response="utter_verification_too_many_attempts")
            return {"verification_code": None, "lookup_refusal": Refusal.TOO_MANY_ATTEMPTS}
        dispatcher.utter_message(response="utter_verification_code_wrong")
        return {"verification_code": None, **self._failed(dispatcher, tracker)}

    @staticmethod
    def _failed(dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """Count a wrong contact or code; past the limit the form stops for this conversation."""
        attempts = int(tracker.get_slot("verification_attempts") or 0) + 1
        if attempts >= MAX_FAILED_ATTEMPTS:
            dispatcher.utter_message(response="utter_verification_too_many_attempts")
            return {"verification_attempts": attempts, "lookup_refusal": Refusal.TOO_MANY_ATTEMPTS}
        return {"verification_attempts": attempts}


def _within_hour(stamp: object, now: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return False
    return now - when < timedelta(hours=1)


class ActionAnswerLookup(Action):
    """Once lookup_form is done: the pending lookup answers (verified), or the pointer answer.

    Slots: `pending_lookup`, `lookup_refusal`, `order_number`, and those the lookup reads.
    """

    def name(self) -> Text:
        return "action_answer_lookup"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        lookup_class = LOOKUPS.get(str(tracker.get_slot("pending_lookup")))
        done: List[EventType] = [
            SlotSet("pending_lookup", None),
            SlotSet("lookup_refusal", None),
            SlotSet("verification_code", None),
        ]
        if lookup_class is None:
            return done
        lookup = lookup_class()
        refusal = tracker.get_slot("lookup_refusal")
        if refusal in Refusal.LEFT_THE_QUESTION:
            other = other_request(tracker, domain, lookup.name())
            if other is not None:
                # Not an answer but a request of its own ("I want to talk to a person"): that
                # is what the customer gets, not the pointer about the old question.
                return [*done, FollowupAction(other)]
        number = order_digits(tracker.get_slot("order_number"))
        client = platform_client()
        if refusal or number is None or client is None:
            if refusal not in Refusal.ALREADY_EXPLAINED:
                dispatcher.utter_message(response=lookup.pointer_response)
            return done
        if channel_phone(tracker) is not None:
            # SMS or WhatsApp: the form only asked for the number; the phone decides.
            return done + await lookup.run(dispatcher, tracker, domain)
        if not verified_by_code(tracker, number):
            dispatcher.utter_message(response=lookup.pointer_response)
            return done
        return done + await lookup.answer_verified(dispatcher, client, tracker, number)
