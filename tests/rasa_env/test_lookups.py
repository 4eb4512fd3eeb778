"""Answers that look things up: a fresh dispatcher, trackers from small dicts, the platform
stand-in behind the real client; exact messages and events."""

import os
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional
from unittest import mock

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.lookups import (
    ActionCheckInvoice,
    ActionDeliveryPeriod,
    ActionGetInvoice,
    ActionTrackOrder,
    ActionTrackRefund,
)
from actions.platform import TOKEN_VARIABLE, URL_VARIABLE, platform_client
from tests.support.platform_standin import (
    CUSTOMER_PHONE,
    PlatformStandIn,
    running_platform_standin,
)

ORDER_55123 = {
    "kind": "order",
    "order_number": "55123",
    "status": "shipped",
    "expected_delivery": "2026-12-03",
    "carrier": "Caribbean Courier",
    "tracking_number": "CCR123456789",
}
VERIFIED = [
    SlotSet("verified_order", "55123"),
    SlotSet("verification_method", "channel_phone"),
    SlotSet("looked_up", ORDER_55123),
]


def tracker(
    text: str,
    *,
    channel: str,
    phone: Optional[str] = None,
    order_number: Optional[str] = None,
    intent: str = "track_order",
    language: str = "en",
) -> Tracker:
    metadata: Dict[str, Any] = {"channel": channel, "language": language}
    if phone is not None:
        metadata["customer_phone"] = phone
    entities = [] if order_number is None else [{"entity": "order_number", "value": order_number}]
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities,
        "metadata": metadata,
    }
    slots = {"language": language, "order_number": order_number}
    return Tracker("conversation-1", slots, latest, [], False, None, {}, "action_listen")


def whatsapp(text: str, order_number: Optional[str] = None, **kwargs: Any) -> Tracker:
    return tracker(
        text,
        channel="whatsapp",
        phone=CUSTOMER_PHONE,
        order_number=order_number,
        **kwargs,
    )


class LookupTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self._standin_context = running_platform_standin()
        self.platform: PlatformStandIn = await self._standin_context.__aenter__()
        self._env = mock.patch.dict(
            os.environ, {URL_VARIABLE: self.platform.url, TOKEN_VARIABLE: self.platform.token}
        )
        self._env.start()

    async def asyncTearDown(self) -> None:
        client = platform_client()
        if client is not None:
            await client.close()
        self._env.stop()
        await self._standin_context.__aexit__(None, None, None)

    async def run_action(self, action: Any, t: Tracker) -> "tuple[list, List[Dict[str, Any]]]":
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, t, {})
        return events, [
            {k: v for k, v in m.items() if v not in (None, [], {}) and k != "template"}
            for m in dispatcher.messages
        ]

    async def test_a_verified_whatsapp_customer_gets_the_orders_real_status(self) -> None:
        events, messages = await self.run_action(
            ActionTrackOrder(), whatsapp("where is order 55123", "55123")
        )
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_order_status",
                    "order_number": "55123",
                    "status": "shipped",
                    "expected_delivery": "2026-12-03",
                },
                {
                    "response": "utter_order_tracking",
                    "carrier": "Caribbean Courier",
                    "tracking_number": "CCR123456789",
                },
            ],
        )
        self.assertEqual(events, VERIFIED)

    async def test_the_status_is_in_the_conversations_language(self) -> None:
        _, messages = await self.run_action(
            ActionTrackOrder(), whatsapp("dónde está mi pedido CC-55123", "CC-55123", language="es")
        )
        self.assertEqual(messages[0]["status"], "enviado")
        self.assertEqual(messages[0]["order_number"], "55123")

    async def test_without_a_number_the_newest_order_on_the_phone_is_looked_up(self) -> None:
        events, messages = await self.run_action(ActionTrackOrder(), whatsapp("where is my order"))
        self.assertEqual(messages[0]["order_number"], "55123")
        self.assertEqual(events, VERIFIED)

    async def test_web_chat_proves_no_phone_so_the_form_asks_for_a_code_first(self) -> None:
        # Even a phone in the metadata counts only on the channels that prove it.
        t = tracker(
            "where is order 55123", channel="webchat", phone=CUSTOMER_PHONE, order_number="55123"
        )
        events, messages = await self.run_action(ActionTrackOrder(), t)
        self.assertEqual(messages, [])
        self.assertEqual(
            events,
            [
                SlotSet("pending_lookup", "action_track_order"),
                SlotSet("order_number", "55123"),
                SlotSet("verification_contact", None),
                SlotSet("verification_code", None),
                SlotSet("verification_id", None),
                SlotSet("verification_expires_at", None),
                SlotSet("lookup_refusal", None),
                FollowupAction("lookup_form"),
            ],
        )
        self.assertEqual(self.platform.calls, [])  # nothing asked, nothing shown

    async def test_verified_by_a_code_web_chat_answers_in_one_turn_for_an_hour(self) -> None:
        def verified(minutes_ago: int) -> Tracker:
            t = tracker("when will order 55123 arrive", channel="webchat", order_number="55123")
            sent = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
            t.slots.update(
                verified_order="55123",
                verification_method="one_time_code",
                verification_codes_sent=[sent.isoformat()],
            )
            return t

        events, messages = await self.run_action(ActionDeliveryPeriod(), verified(minutes_ago=5))
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_delivery_expected",
                    "order_number": "55123",
                    "status": "shipped",
                    "expected_delivery": "2026-12-03",
                }
            ],
        )
        self.assertEqual(events, [SlotSet("looked_up", ORDER_55123)])
        # Later than that the proof has lapsed: the form asks for a new code.
        events, messages = await self.run_action(ActionDeliveryPeriod(), verified(minutes_ago=61))
        self.assertEqual((messages, events[-1]), ([], FollowupAction("lookup_form")))
        # And a code for one order proves nothing about another.
        t = verified(minutes_ago=5)
        t.slots["verified_order"] = "55001"
        events, messages = await self.run_action(ActionDeliveryPeriod(), t)
        self.assertEqual((messages, events[-1]), ([], FollowupAction("lookup_form")))

    async def test_the_expected_delivery_of_a_verified_customers_order(self) -> None:
        events, messages = await self.run_action(
            ActionDeliveryPeriod(), whatsapp("when will order 55123 arrive", "55123", language="nl")
        )
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_delivery_expected",
                    "order_number": "55123",
                    "status": "verzonden",
                    "expected_delivery": "2026-12-03",
                }
            ],
        )
        self.assertEqual(events, VERIFIED)

    async def test_a_copy_of_the_invoice_is_a_link_to_its_pdf(self) -> None:
        events, messages = await self.run_action(
            ActionGetInvoice(), whatsapp("send me the invoice for order 55123", "55123")
        )
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_invoice_link",
                    "invoice_number": "INV-55123",
                    "order_number": "55123",
                    "total": "XCD 120.00",
                    "pdf_url": f"{self.platform.url}/v1/invoices/INV-55123.pdf",
                }
            ],
        )
        self.assertEqual(
            events[-1],
            SlotSet(
                "looked_up",
                {"kind": "invoices", "order_number": "55123", "invoices": ["INV-55123"]},
            ),
        )

    async def test_an_invoices_status_in_the_conversations_language(self) -> None:
        _, messages = await self.run_action(
            ActionCheckInvoice(),
            whatsapp("is invoice for order 55001 paid", "55001", language="es"),
        )
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_invoice_status",
                    "invoice_number": "INV-55001",
                    "order_number": "55001",
                    "issued_on": "2026-10-02",
                    "total": "XCD 120.00",
                    "status": "pagada",
                }
            ],
        )

    async def test_an_order_without_an_invoice_says_so(self) -> None:
        self.platform.invoiceless.add("55123")
        _, messages = await self.run_action(
            ActionCheckInvoice(), whatsapp("invoice for order 55123", "55123")
        )
        self.assertEqual(messages, [{"response": "utter_no_invoice_yet", "order_number": "55123"}])

    async def test_invoices_and_delivery_degrade_to_their_pointer_answers(self) -> None:
        self.platform.go_down()
        for action, pointer in (
            (ActionDeliveryPeriod(), "utter_delivery_period"),
            (ActionGetInvoice(), "utter_get_invoice"),
            (ActionCheckInvoice(), "utter_check_invoice"),
        ):
            events, messages = await self.run_action(action, whatsapp("order 55123", "55123"))
            self.assertEqual((events, messages), ([], [{"response": pointer}]))

    async def test_someone_elses_order_and_an_unknown_one_get_the_same_answer(self) -> None:
        answers = []
        for number in ("77777", "99999"):
            events, messages = await self.run_action(
                ActionTrackOrder(), whatsapp(f"where is order {number}", number)
            )
            self.assertEqual(events, [])
            answers.append([{k: v for k, v in m.items() if k != "order_number"} for m in messages])
            self.assertEqual(messages[0]["order_number"], number)
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(
            answers[0],
            [{"response": "utter_order_not_found_for_phone"}, {"response": "utter_track_order"}],
        )

    async def test_an_outage_degrades_to_the_pointer_answer(self) -> None:
        self.platform.go_down()
        events, messages = await self.run_action(
            ActionTrackOrder(), whatsapp("where is order 55123", "55123")
        )
        self.assertEqual((events, messages), ([], [{"response": "utter_track_order"}]))

    async def test_a_slow_platform_degrades_to_the_pointer_answer(self) -> None:
        self.platform.slow_down(10.0)
        events, messages = await self.run_action(
            ActionTrackRefund(), whatsapp("my refund for order 55001", "55001")
        )
        self.assertEqual((events, messages), ([], [{"response": "utter_track_refund"}]))

    async def test_without_a_platform_it_is_todays_pointer_answer(self) -> None:
        with mock.patch.dict(os.environ, {URL_VARIABLE: ""}):
            events, messages = await self.run_action(
                ActionTrackOrder(), whatsapp("where is order 55123", "55123")
            )
        self.assertEqual((events, messages), ([], [{"response": "utter_track_order"}]))

    async def test_a_refund_with_its_amount_status_and_date(self) -> None:
        events, messages = await self.run_action(
            ActionTrackRefund(),
            whatsapp("my refund for order 55001", "55001", intent="track_refund", language="fr"),
        )
        self.assertEqual(
            messages,
            [
                {
                    "response": "utter_refund_status",
                    "order_number": "55001",
                    "amount": "XCD 45.00",
                    "status": "approuvé, en route vers vous",
                    "expected_date": "2026-12-05",
                }
            ],
        )
        self.assertEqual(
            events,
            [
                SlotSet("verified_order", "55001"),
                SlotSet("verification_method", "channel_phone"),
                SlotSet(
                    "looked_up",
                    {
                        "kind": "refund",
                        "order_number": "55001",
                        "status": "approved",
                        "amount": "XCD 45.00",
                        "expected_date": "2026-12-05",
                    },
                ),
            ],
        )

    async def test_an_order_without_a_refund_says_so(self) -> None:
        _, messages = await self.run_action(
            ActionTrackRefund(), whatsapp("refund for order 55123", "55123")
        )
        self.assertEqual(messages, [{"response": "utter_no_refund_found", "order_number": "55123"}])


if __name__ == "__main__":
    unittest.main()
