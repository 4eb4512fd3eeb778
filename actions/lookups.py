"""Answers that look the customer's own order, refund or invoices up on the platform.

The customer gets the real record when the platform is configured (actions/platform.py) and
the customer is verified for the order (actions/verification.py): on SMS and WhatsApp by the
phone the channel proves being the order's phone, elsewhere by a one-time code sent to the
order's email or phone on file (lookup_form, actions/lookup_form.py, which also asks for a
missing order number). Otherwise they get today's pointer answer, which shows nothing personal;
a platform that is slow or down gives the pointer answer too, within the lookup's deadline.
The order is the number the customer gave (entity or `order_number` slot); on SMS and WhatsApp
without one, the newest order on the phone they write from.
"""

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Text, Tuple, Type

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.lookup_texts import date_or_unknown, invoice_status_word, status_word
from actions.platform import Order, PlatformClient, PlatformUnavailable, platform_client
from actions.verification import (
    BY_CHANNEL_PHONE,
    channel_phone,
    same_phone,
    verified_by_code,
)

logger = logging.getLogger(__name__)

# The whole lookup (up to two platform calls) fits in this, so the turn answers within ~3 s.
LOOKUP_DEADLINE = 2.8
LOOKUP_FORM = "lookup_form"
ORDER_NUMBER = re.compile(r"^\d{5,8}$")
# At most this many invoices are linked in one answer (a phone screen, not a statement).
MAX_INVOICE_LINKS = 3


def order_number(tracker: Tracker) -> Optional[Text]:
    """The order number the customer gave, as digits ("CC-482913" and "#482913" -> "482913")."""
    value = next(tracker.get_latest_entity_values("order_number"), None)
    if value is None:
        value = tracker.get_slot("order_number")
    return order_digits(value)


def order_digits(value: object) -> Optional[Text]:
    """The digits of an order number as typed, or None when they cannot be one."""
    digits = re.sub(r"\D", "", str(value)) if value else ""
    return digits if ORDER_NUMBER.match(digits) else None


@dataclass
class Answer:
    """What to tell a verified customer: each message's `utter_message` arguments, and what
    was looked up, for the handoff packet (`looked_up` slot)."""

    messages: List[Dict[Text, Any]] = field(default_factory=list)
    looked_up: Optional[Dict[Text, Any]] = None


class OrderLookup(Action, ABC):
    """Looks up the customer's order and answers with it, or with the pointer answer.

    Slots: `order_number` (read), `language` (status words), `verified_order` and
    `verification_method` (set once the customer is verified for an order), `looked_up` (set
    with what was shown), `pending_lookup` (this action, when lookup_form must ask first).
    Responses: the subclass's `pointer_response`, `utter_order_not_found_for_phone`, and
    whatever `answer` sends.
    """

    pointer_response: Text

    @abstractmethod
    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
        """What to tell the verified customer about `order` (may ask the platform more)."""

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
        if phone is not None:
            return await self._answer_by_phone(dispatcher, client, tracker, phone)
        number = order_number(tracker)
        if number is not None and verified_by_code(tracker, number):
            return await self.answer_verified(dispatcher, client, tracker, number)
        # The channel proves nothing: lookup_form asks for what is missing (the number, the
        # contact on file, the code) and action_answer_lookup answers once it has it.
        return [
            SlotSet("pending_lookup", self.name()),
            SlotSet("order_number", number),
            SlotSet("verification_contact", None),
            SlotSet("verification_code", None),
            SlotSet("verification_id", None),
            SlotSet("verification_expires_at", None),
            SlotSet("lookup_refusal", None),
            FollowupAction(LOOKUP_FORM),
        ]

    async def answer_verified(
        self,
        dispatcher: CollectingDispatcher,
        client: PlatformClient,
        tracker: Tracker,
        number: Text,
    ) -> List[EventType]:
        """Answer about `number` for a customer verified for it by a one-time code."""

        async def look_up() -> Optional[Answer]:
            order = await client.order(number)
            if order is None:  # verified moments ago: the platform lost it, or a new number
                return None
            return await self.answer(client, order, tracker.get_slot("language"))

        try:
            answer = await asyncio.wait_for(look_up(), LOOKUP_DEADLINE)
        except (PlatformUnavailable, asyncio.TimeoutError):
            logger.info("lookup.degraded action=%s", self.name())
            dispatcher.utter_message(response=self.pointer_response)
            return []
        if answer is None:
            dispatcher.utter_message(response=self.pointer_response)
            return []
        for message in answer.messages:
            dispatcher.utter_message(**message)
        logger.info("lookup.answered action=%s method=one_time_code", self.name())
        return [SlotSet("looked_up", answer.looked_up)]

    async def _answer_by_phone(
        self,
        dispatcher: CollectingDispatcher,
        client: PlatformClient,
        tracker: Tracker,
        phone: Text,
    ) -> List[EventType]:
        pending: List[Dict[Text, Any]] = []
        try:
            found = await asyncio.wait_for(
                self._look_up_by_phone(pending, client, tracker, phone), LOOKUP_DEADLINE
            )
        except (PlatformUnavailable, asyncio.TimeoutError):
            logger.info("lookup.degraded action=%s", self.name())
            dispatcher.utter_message(response=self.pointer_response)
            return []
        # Sent only once the whole lookup succeeded: an outage halfway through must not leave
        # half an answer followed by the pointer answer.
        for message in pending:
            dispatcher.utter_message(**message)
        if found is None:
            return []
        number, looked_up = found
        logger.info("lookup.answered action=%s method=%s", self.name(), BY_CHANNEL_PHONE)
        return [
            SlotSet("verified_order", number),
            SlotSet("verification_method", BY_CHANNEL_PHONE),
            SlotSet("looked_up", looked_up),
        ]

    async def _look_up_by_phone(
        self, pending: List[Dict[Text, Any]], client: PlatformClient, tracker: Tracker, phone: Text
    ) -> Optional[Tuple[Text, Optional[Dict[Text, Any]]]]:
        """Queue the messages to send; the verified order's number and what was looked up, or
        None if no order was verified."""
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
        answer = await self.answer(client, order, tracker.get_slot("language"))
        pending.extend(answer.messages)
        return order.number, answer.looked_up


def _order_summary(order: Order, kind: Text) -> Dict[Text, Any]:
    return {
        "kind": kind,
        "order_number": order.number,
        "status": order.status,
        "expected_delivery": order.expected_delivery,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    }


class ActionTrackOrder(OrderLookup):
    """Where the order is: its status, expected delivery and, once shipped, carrier and tracking.

    Responses: `utter_track_order` (pointer), `utter_order_status`, `utter_order_tracking`.
    """

    pointer_response = "utter_track_order"

    def name(self) -> Text:
        return "action_track_order"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
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
        return Answer(messages, _order_summary(order, "order"))


class ActionDeliveryPeriod(OrderLookup):
    """When the order arrives: the platform's expected delivery date with the order's status.

    Responses: `utter_delivery_period` (pointer), `utter_delivery_expected`.
    """

    pointer_response = "utter_delivery_period"

    def name(self) -> Text:
        return "action_delivery_period"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
        message = {
            "response": "utter_delivery_expected",
            "order_number": order.number,
            "status": status_word(order.status, language),
            "expected_delivery": date_or_unknown(order.expected_delivery, language),
        }
        return Answer([message], _order_summary(order, "order"))


class ActionTrackRefund(OrderLookup):
    """Where the refund on an order is: its status, amount and expected date.

    Responses: `utter_track_refund` (pointer), `utter_refund_status`, `utter_no_refund_found`.
    """

    pointer_response = "utter_track_refund"

    def name(self) -> Text:
        return "action_track_refund"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
        refund = await client.refund(order.number)
        if refund is None:
            return Answer(
                [{"response": "utter_no_refund_found", "order_number": order.number}],
                {"kind": "refund", "order_number": order.number, "status": None},
            )
        message = {
            "response": "utter_refund_status",
            "order_number": order.number,
            "amount": refund.amount,
            "status": status_word(refund.status, language),
            "expected_date": date_or_unknown(refund.expected_date, language),
        }
        looked_up = {
            "kind": "refund",
            "order_number": order.number,
            "status": refund.status,
            "amount": refund.amount,
            "expected_date": refund.expected_date,
        }
        return Answer([message], looked_up)


class ActionGetInvoice(OrderLookup):
    """A copy of the order's invoices: a link to each one's PDF, newest first.

    Responses: `utter_get_invoice` (pointer), `utter_invoice_link`, `utter_no_invoice_yet`.
    """

    pointer_response = "utter_get_invoice"

    def name(self) -> Text:
        return "action_get_invoice"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
        invoices = (await client.invoices(order.number) or [])[:MAX_INVOICE_LINKS]
        looked_up = {
            "kind": "invoices",
            "order_number": order.number,
            "invoices": [i.number for i in invoices],
        }
        if not invoices:
            return Answer(
                [{"response": "utter_no_invoice_yet", "order_number": order.number}], looked_up
            )
        messages = [
            {
                "response": "utter_invoice_link",
                "invoice_number": i.number,
                "order_number": order.number,
                "total": i.total,
                "pdf_url": i.pdf_url,
            }
            for i in invoices
        ]
        return Answer(messages, looked_up)


class ActionCheckInvoice(OrderLookup):
    """The order's latest invoice: when it was issued, its total and whether it is paid.

    Responses: `utter_check_invoice` (pointer), `utter_invoice_status`, `utter_no_invoice_yet`.
    """

    pointer_response = "utter_check_invoice"

    def name(self) -> Text:
        return "action_check_invoice"

    async def answer(
        self, client: PlatformClient, order: Order, language: Optional[Text]
    ) -> Answer:
        invoices = await client.invoices(order.number) or []
        if not invoices:
            return Answer(
                [{"response": "utter_no_invoice_yet", "order_number": order.number}],
                {"kind": "invoices", "order_number": order.number, "invoices": []},
            )
        latest = invoices[0]
        message = {
            "response": "utter_invoice_status",
            "invoice_number": latest.number,
            "order_number": order.number,
            "issued_on": latest.issued_at[:10],
            "total": latest.total,
            "status": invoice_status_word(latest.status, language),
        }
        looked_up = {
            "kind": "invoice",
            "order_number": order.number,
            "invoice_number": latest.number,
            "status": latest.status,
            "total": latest.total,
        }
        return Answer([message], looked_up)


# The lookups lookup_form may ask for, by action name (the `pending_lookup` slot).
LOOKUPS: Dict[Text, Type[OrderLookup]] = {
    cls().name(): cls
    for cls in (
        ActionTrackOrder,
        ActionDeliveryPeriod,
        ActionTrackRefund,
        ActionGetInvoice,
        ActionCheckInvoice,
    )
}
