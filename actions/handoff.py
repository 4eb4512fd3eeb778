"""Handing the conversation to a person.

The action does not queue anything itself: it returns a custom payload
`{"handoff": {"reason", "priority", "summary"}}` and the gateway, which owns the queue, acts on it.
The reasons come from the list the gateway reads them by (bot/handoff_reasons.py, which imports
nothing and runs on Rasa's Python too).
"""

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.handoff_reasons import HandoffReason

# intent -> (reason, priority, response to send before the handoff, if any)
HANDOFF_BY_INTENT: Dict[Text, Tuple[HandoffReason, Text, Optional[Text]]] = {
    "contact_human_agent": (HandoffReason.CUSTOMER_REQUEST, "normal", None),
    "complaint": (HandoffReason.COMPLAINT, "high", None),
    "payment_dispute": (
        HandoffReason.PAYMENT_DISPUTE,
        "urgent",
        "utter_payment_dispute_first_steps",
    ),
    "account_compromised": (
        HandoffReason.ACCOUNT_COMPROMISED,
        "urgent",
        "utter_account_compromised_first_steps",
    ),
}
DEFAULT_HANDOFF: Tuple[HandoffReason, Text, Optional[Text]] = (
    HandoffReason.CUSTOMER_REQUEST,
    "normal",
    None,
)
SUMMARY_CHARS = 280
# Reasons a button may give through the `handoff_reason` slot, over the intent's own: "connect
# me" after repeated fallback, and after the customer said an answer did not help.
BUTTON_REASONS = frozenset({HandoffReason.REPEATED_FALLBACK, HandoffReason.FAQ_NOT_HELPFUL})


class ActionHandoffToHuman(Action):
    """Asks the gateway for a person, with a reason and priority that follow from the intent.

    Slots: `handoff_reason` (set by the "connect me" buttons: after repeated fallback, and
    after an answer that did not help).
    Responses: `utter_payment_dispute_first_steps`, `utter_account_compromised_first_steps`.
    """

    def name(self) -> Text:
        return "action_handoff_to_human"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        reason, priority, first_steps = HANDOFF_BY_INTENT.get(intent, DEFAULT_HANDOFF)
        button_reason = HandoffReason.parse(tracker.get_slot("handoff_reason"))
        if button_reason in BUTTON_REASONS:
            reason = button_reason
        if first_steps:
            dispatcher.utter_message(response=first_steps)
        text = tracker.latest_message.get("text") or ""
        summary = None if text.startswith("/") else text[:SUMMARY_CHARS]
        dispatcher.utter_message(
            json_message={
                "handoff": {"reason": reason.value, "priority": priority, "summary": summary}
            }
        )
        return [SlotSet("handoff_reason", None)]
