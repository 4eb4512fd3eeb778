"""Answers that look the customer's own order or refund up on the platform.

The customer gets the real status when three things hold: the platform is configured
(actions/platform.py), the channel proves the customer's phone (actions/verification.py) and
that phone is the order's. Otherwise they get today's pointer answer, which shows nothing
personal; a platform that is slow or down gives the pointer answer too, within the lookup's
deadline. The order is the number the customer gave (entity or `order_number` slot), else the
newest order on the phone they write from.
"""

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.lookup_texts import date_or_unknown, status_word
from actions.platform import Order, PlatformClient, PlatformUnavailable, platform_client
from actions.verification import BY_CHANNEL_PHONE, channel_phone, same_phone

logger = logging.getLogger(__name__)

# The whole lookup (up to two platform calls) fits in this, so the turn answers within ~3 s.
LOOKUP_DEADLINE = 2.8


def order_number(tracker: Tracker) -> Optional[Text]:
    """The order number the customer gave, as digits ("CC-482913" and "#482913" -> "482913")."""
    value = next(tracker.get_latest_entity_values("order_number"), None)
    if value is None:
        value = tracker.get_slot("order_number")
    digits = re.sub(r"\D", "", str(value)) if value else ""
    return digits or None


class OrderLookup(Action, ABC):
    """Looks up the customer's order and answers with it, or with the pointer answer.

    Slots: `order_number` (read), `language` (status words), `verified_order` and
    `verification_method` (set once the customer is verified for an order).
    Responses: the subclass's `pointer_response`, `utter_lookup_needs_verified_phone`,
    `utter_order_not_found_for_phone`, and whatever `answer` sends.
    """

    pointer_response: Text

    @abstractmethod
    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> List[Dict[Text, Any]]:
        """What to tell the verified customer about `order` (may ask the platform more): the
        `utter_message` arguments of each message."""

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        client = platform_client()
        if client is None:
            dispatcher.utter_message(response=self.pointer_response)
            return []
        phone = channel_phone(tracker)
        if phone is None:
            dispatcher.utter_message(response=self.pointer_response)
            dispatcher.utter_message(response="utter_lookup_needs_verified_phone")
            return []
        pending: List[Dict[Text, Any]] = []
        try:
            verified = await asyncio.wait_for(
                self._look_up(pending, client, tracker, phone), LOOKUP_DEADLINE
            )
        except (PlatformUnavailable, asyncio.TimeoutError):
            logger.info("lookup.degraded action=%s", self.name())
            dispatcher.utter_message(response=self.pointer_response)
            return []
        # Sent only once the whole lookup succeeded: an outage halfway through must not leave
        # half an answer followed by the pointer answer.
        for message in pending:
            dispatcher.utter_message(**message)
        if verified is None:
            return []
        logger.info("lookup.answered action=%s method=%s", self.name(), BY_CHANNEL_PHONE)
        return [
            SlotSet("verified_order", verified),
            SlotSet("verification_method", BY_CHANNEL_PHONE),
        ]

    async def _look_up(
        self, pending: List[Dict[Text, Any]], client: PlatformClient, tracker: Tracker, phone: Text
    ) -> Optional[Text]:
        """Queue the messages to send; the verified order's number, or None if none was."""
        number = order_number(tracker)
        if number is None:
            recent = await client.recent_orders(phone=phone)
            if not recent:
                pending.append({"response": self.pointer_response})
                return None
            number = recent[0].number
        order = await client.order(number)
        if order is None or not same_phone(phone, order.phone):
            # The same answer for an unknown order and someone else's: nothing tells a stranger
            # which numbers are real.
            pending.append({"response": "utter_order_not_found_for_phone", "order_number": number})
            pending.append({"response": self.pointer_response})
            return None
        pending.extend(await self.answer(client, order, tracker.get_slot("language")))
        return order.number


class ActionTrackOrder(OrderLookup):
    """Where the order is: its status, expected delivery and, once shipped, carrier and tracking.

    Responses: `utter_track_order` (pointer), `utter_order_status`, `utter_order_tracking`.
    """

    pointer_response = "utter_track_order"

    def name(self) -> Text:
        return "action_track_order"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> List[Dict[Text, Any]]:
        messages: List[Dict[Text, Any]] = [
            {
                "response": "utter_order_status",
                "order_number": order.number,
                "status": status_word(order.status, language),
                "expected_delivery": date_or_unknown(order.expected_delivery, language),
            }
        ]
        if order.carrier and order.tracking_number:
            messages.append(
                {
                    "response": "utter_order_tracking",
                    "carrier": order.carrier,
                    "tracking_number": order.tracking_number,
                }
            )
        return messages


class ActionTrackRefund(OrderLookup):
    """Where the refund on an order is: its status, amount and expected date.

    Responses: `utter_track_refund` (pointer), `utter_refund_status`, `utter_no_refund_found`.
    """

    pointer_response = "utter_track_refund"

    def name(self) -> Text:
        return "action_track_refund"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> List[Dict[Text, Any]]:
        refund = await client.refund(order.number)
        if refund is None:
            return [{"response": "utter_no_refund_found", "order_number": order.number}]
        return [
            {
                "response": "utter_refund_status",
                "order_number": order.number,
                "amount": refund.amount,
                "status": status_word(refund.status, language),
                "expected_date": date_or_unknown(refund.expected_date, language),
            }
        ]
