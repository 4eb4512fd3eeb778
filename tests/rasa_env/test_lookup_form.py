"""lookup_form: the order number and a one-time code for a channel that proves nothing, checked
by validate_lookup_form against the platform stand-in (real client); then
action_answer_lookup. A fresh dispatcher, trackers from small dicts, exact messages and events."""

import os
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional
from unittest import mock

from rasa.shared.importers.importer import TrainingDataImporter
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.lookup_form import (
    CODES_PER_HOUR,
    MAX_FAILED_ATTEMPTS,
    ActionAnswerLookup,
    ValidateLookupForm,
)
from actions.platform import TOKEN_VARIABLE, URL_VARIABLE, platform_client
from tests.support.platform_standin import PlatformStandIn, running_platform_standin

# The domain as Rasa sends it to the action server: domain.yml with the responses in data/.
DOMAIN = (
    TrainingDataImporter.load_from_dict(domain_path="domain.yml", training_data_paths=["data"])
    .get_domain()
    .as_dict()
)
EMAIL = "keisha@example.com"


def form_turn(
    text: str,
    *,
    requested: Optional[str],
    slots: Dict[str, Any],
    metadata: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """The tracker validate_lookup_form sees after the customer's `text`: what Rasa's slot
    mappings took from it (from_text for the number and the contact) is set after the message."""
    latest = {
        "text": text,
        "intent": {"name": "out_of_scope", "confidence": 0.5},
        "entities": [],
        "metadata": {"channel": "webchat", "language": "en", **(metadata or {})},
    }
    events: List[Dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest}]
    all_slots = {"language": "en", "requested_slot": requested, **slots}
    if requested in ("order_number", "verification_contact"):
        all_slots[requested] = text
        events.append({"event": "slot", "name": requested, "value": text})
    return Tracker(
        "conversation-1",
        all_slots,
        latest,
        events,
        False,
        None,
        {"name": "lookup_form"},
        "action_listen",
    )


def as_dict(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


class LookupFormTest(unittest.IsolatedAsyncioTestCase):
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

    async def validate(self, t: Tracker) -> "tuple[Dict[str, Any], List[Dict[str, Any]]]":
        dispatcher = CollectingDispatcher()
        events = await ValidateLookupForm().run(dispatcher, t, DOMAIN)
        return as_dict(events), [
            {k: v for k, v in m.items() if v not in (None, [], {}) and k != "template"}
            for m in dispatcher.messages
        ]

    def assert_asks_next(self, slots_set: Dict[str, Any]) -> None:
        """The form goes on: Rasa asks for the next empty slot in the domain's order (the
        validation names a next slot only when it cuts the list short)."""
        self.assertNotIn("requested_slot", slots_set)

    async def send_code(self, slots: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The customer names the order's email; the slots after it."""
        before = {"order_number": "55123", "pending_lookup": "action_track_order", **(slots or {})}
        slots_set, _ = await self.validate(
            form_turn(EMAIL, requested="verification_contact", slots=before)
        )
        return {**before, **slots_set}

    async def test_a_code_sent_to_the_email_on_file_verifies_the_customer(self) -> None:
        slots_set, messages = await self.validate(
            form_turn(
                EMAIL,
                requested="verification_contact",
                slots={"order_number": "55123", "pending_lookup": "action_track_order"},
            )
        )
        # Nothing about the order yet: only where the code went, masked.
        self.assertEqual(
            messages, [{"response": "utter_verification_code_sent", "sent_to": "k***@example.com"}]
        )
        self.assertEqual(slots_set["verification_contact"], "k***@example.com")
        self.assert_asks_next(slots_set)  # verification_code
        self.assertEqual(len(slots_set["verification_codes_sent"]), 1)
        [sent] = self.platform.codes_sent
        self.assertEqual((sent.order_number, sent.to), ("55123", EMAIL))

        slots = {"order_number": "55123", **slots_set}
        slots_set, messages = await self.validate(
            form_turn(
                "[code removed]",
                requested="verification_code",
                slots=slots,
                metadata={"one_time_code": sent.code},
            )
        )
        self.assertEqual(messages, [{"response": "utter_verified"}])
        self.assertEqual(
            slots_set,
            {
                "verification_code": "approved",  # never the code itself
                "verified_order": "55123",
                "verification_method": "one_time_code",
                "requested_slot": None,
            },
        )

        # The form is done: the lookup that asked answers, with the real record.
        dispatcher = CollectingDispatcher()
        t = Tracker(
            "conversation-1",
            {**slots, **slots_set, "language": "en", "pending_lookup": "action_track_order"},
            {"text": "", "metadata": {"channel": "webchat"}, "entities": []},
            [],
            False,
            None,
            {},
            "lookup_form",
        )
        events = await ActionAnswerLookup().run(dispatcher, t, DOMAIN)
        self.assertEqual(
            [m["response"] for m in dispatcher.messages],
            ["utter_order_status", "utter_order_tracking"],
        )
        self.assertEqual(dispatcher.messages[0]["status"], "shipped")
        self.assertEqual(as_dict(events)["looked_up"]["order_number"], "55123")
        self.assertEqual(as_dict(events)["pending_lookup"], None)

    async def test_the_phone_on_file_works_too_written_as_people_write_it(self) -> None:
        slots_set, messages = await self.validate(
            form_turn(
                "+1 (868) 555-0123",
                requested="verification_contact",
                slots={"order_number": "55123"},
            )
        )
        self.assertEqual(messages[0]["response"], "utter_verification_code_sent")
        self.assertEqual(self.platform.codes_sent[0].to, "+18685550123")
        self.assertNotIn("555", slots_set["verification_contact"].replace("555-", ""))

    async def test_a_code_typed_without_the_gateway_is_read_from_the_text(self) -> None:
        slots = await self.send_code()
        slots_set, _ = await self.validate(
            form_turn(
                f"it's {self.platform.last_code()}", requested="verification_code", slots=slots
            )
        )
        self.assertEqual(slots_set["verification_method"], "one_time_code")

    async def test_someone_elses_contact_and_an_unknown_order_get_the_same_answer(self) -> None:
        answers = []
        for number in ("77777", "99999"):
            slots_set, messages = await self.validate(
                form_turn(EMAIL, requested="verification_contact", slots={"order_number": number})
            )
            self.assertEqual(slots_set["verification_contact"], None)
            self.assertEqual(slots_set["verification_attempts"], 1)
            self.assert_asks_next(slots_set)  # verification_contact
            answers.append([{k: v for k, v in m.items() if k != "order_number"} for m in messages])
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(answers[0], [{"response": "utter_verification_contact_not_matched"}])
        self.assertEqual(self.platform.codes_sent, [])

    async def test_a_wrong_code_is_refused_and_asked_again(self) -> None:
        slots = await self.send_code()
        wrong = "000000" if self.platform.last_code() != "000000" else "111111"
        slots_set, messages = await self.validate(
            form_turn(
                "[code removed]",
                requested="verification_code",
                slots=slots,
                metadata={"one_time_code": wrong},
            )
        )
        self.assertEqual(messages, [{"response": "utter_verification_code_wrong"}])
        self.assertEqual(
            slots_set,
            {"verification_code": None, "verification_attempts": 1},
        )
        self.assert_asks_next(slots_set)

    async def test_too_many_wrong_tries_end_the_check_for_the_conversation(self) -> None:
        slots = await self.send_code({"verification_attempts": MAX_FAILED_ATTEMPTS - 1})
        slots_set, messages = await self.validate(
            form_turn(
                "[code removed]",
                requested="verification_code",
                slots=slots,
                metadata={"one_time_code": "12"},  # not even a code: a try all the same
            )
        )
        self.assertEqual(
            messages,
            [
                {"response": "utter_verification_code_wrong"},
                {"response": "utter_verification_too_many_attempts"},
            ],
        )
        self.assertEqual(slots_set["lookup_refusal"], "too_many_attempts")
        self.assertEqual(slots_set["requested_slot"], None)  # the form stops

        # And the lookup answers with nothing personal: the refusal said where to look.
        dispatcher = CollectingDispatcher()
        t = Tracker(
            "c",
            {**slots, **slots_set, "pending_lookup": "action_track_order"},
            {"text": "", "metadata": {"channel": "webchat"}, "entities": []},
            [],
            False,
            None,
            {},
            "lookup_form",
        )
        await ActionAnswerLookup().run(dispatcher, t, DOMAIN)
        self.assertEqual(dispatcher.messages, [])
        self.assertNotIn("/v1/orders/55123", self.platform.calls)

    async def test_an_expired_code_is_refused(self) -> None:
        slots = await self.send_code()
        slots["verification_expires_at"] = (
            datetime.now(timezone.utc) - timedelta(seconds=1)
        ).isoformat()
        slots_set, messages = await self.validate(
            form_turn(
                "[code removed]",
                requested="verification_code",
                slots=slots,
                metadata={"one_time_code": self.platform.last_code()},
            )
        )
        self.assertEqual(messages, [{"response": "utter_verification_code_expired"}])
        self.assertEqual(slots_set["lookup_refusal"], "expired")

    async def test_a_code_the_platform_let_expire_is_refused(self) -> None:
        self.platform.code_lifetime = 0.0
        slots = await self.send_code()
        slots["verification_expires_at"] = (
            datetime.now(timezone.utc) + timedelta(minutes=5)
        ).isoformat()  # the platform's clock decides
        slots_set, messages = await self.validate(
            form_turn(
                "[code removed]",
                requested="verification_code",
                slots=slots,
                metadata={"one_time_code": self.platform.last_code()},
            )
        )
        self.assertEqual(messages, [{"response": "utter_verification_code_expired"}])
        self.assertEqual(slots_set["lookup_refusal"], "expired")

    async def test_codes_per_hour_are_limited_per_conversation(self) -> None:
        recent = [
            (datetime.now(timezone.utc) - timedelta(minutes=m)).isoformat()
            for m in range(CODES_PER_HOUR)
        ]
        slots_set, messages = await self.validate(
            form_turn(
                EMAIL,
                requested="verification_contact",
                slots={"order_number": "55123", "verification_codes_sent": recent},
            )
        )
        self.assertEqual(messages, [{"response": "utter_verification_too_many_codes"}])
        self.assertEqual(slots_set["lookup_refusal"], "too_many_codes")
        self.assertEqual(self.platform.codes_sent, [])

    async def test_an_hour_later_a_code_may_be_sent_again(self) -> None:
        old = [
            (datetime.now(timezone.utc) - timedelta(minutes=61 + m)).isoformat()
            for m in range(CODES_PER_HOUR)
        ]
        slots = await self.send_code({"verification_codes_sent": old})
        self.assertEqual(len(slots["verification_codes_sent"]), 1)
        self.assertEqual(len(self.platform.codes_sent), 1)

    async def test_a_bare_number_is_the_order_number_asked_for(self) -> None:
        slots_set, messages = await self.validate(
            form_turn("CC-55123", requested="order_number", slots={})
        )
        self.assertEqual(messages, [])
        self.assertEqual(slots_set["order_number"], "55123")
        self.assert_asks_next(slots_set)  # verification_contact

    async def test_no_order_number_ends_with_the_pointer_answer(self) -> None:
        slots_set, messages = await self.validate(
            form_turn("I don't have it", requested="order_number", slots={})
        )
        self.assertEqual(messages, [])
        self.assertEqual(slots_set["lookup_refusal"], "no_number")
        self.assertEqual(slots_set["requested_slot"], None)
        dispatcher = CollectingDispatcher()
        t = Tracker(
            "c",
            {**slots_set, "pending_lookup": "action_get_invoice"},
            {"text": "", "metadata": {"channel": "webchat"}, "entities": []},
            [],
            False,
            None,
            {},
            "lookup_form",
        )
        await ActionAnswerLookup().run(dispatcher, t, DOMAIN)
        self.assertEqual([m["response"] for m in dispatcher.messages], ["utter_get_invoice"])

    async def answer_after(
        self, refusal: str, intent: str, confidence: float
    ) -> "tuple[list, list]":
        dispatcher = CollectingDispatcher()
        latest = {
            "text": "…",
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "metadata": {"channel": "webchat"},
        }
        slots = {"pending_lookup": "action_track_order", "lookup_refusal": refusal}
        t = Tracker("c", slots, latest, [], False, None, {}, "lookup_form")
        events = await ActionAnswerLookup().run(dispatcher, t, DOMAIN)
        return events, [m["response"] for m in dispatcher.messages]

    async def test_a_request_instead_of_an_answer_is_what_the_customer_gets(self) -> None:
        for intent, followed_by in (
            ("contact_human_agent", "action_handoff_to_human"),
            ("change_shipping_address", "utter_change_shipping_address"),
            ("get_invoice", "action_get_invoice"),
        ):
            events, messages = await self.answer_after("no_contact", intent, 0.95)
            self.assertEqual(messages, [])
            self.assertEqual(
                events[-1], {"event": "followup", "timestamp": None, "name": followed_by}
            )
        # Unsure, small talk, or the same question again: the pointer answer.
        for intent, confidence in (
            ("contact_human_agent", 0.4),
            ("deny", 0.99),
            ("track_order", 0.99),
        ):
            events, messages = await self.answer_after("no_number", intent, confidence)
            self.assertEqual(messages, ["utter_track_order"])
            self.assertNotIn("followup", [e["event"] for e in events])

    async def test_digits_that_are_no_order_number_are_asked_again(self) -> None:
        slots_set, messages = await self.validate(
            form_turn("123", requested="order_number", slots={})
        )
        self.assertEqual(messages, [{"response": "utter_order_number_not_understood"}])
        self.assert_asks_next(slots_set)  # order_number

    async def test_starting_the_form_checks_nothing_the_lookup_emptied(self) -> None:
        # What validate_lookup_form sees when action_track_order starts the form: the slots it
        # emptied, set after the customer's question.
        latest = {"text": "where is my order?", "entities": [], "metadata": {"channel": "webchat"}}
        emptied = ["order_number", "verification_contact", "verification_code"]
        events = [{"event": "user", "text": latest["text"], "parse_data": latest}] + [
            {"event": "slot", "name": name, "value": None} for name in emptied
        ]
        t = Tracker("c", {"language": "en"}, latest, events, False, None, {}, "action_track_order")
        slots_set, messages = await self.validate(t)
        self.assertEqual(messages, [])
        self.assertEqual(slots_set, dict.fromkeys(emptied))
        self.assertEqual(self.platform.calls, [])

    async def test_a_mistyped_contact_is_asked_again_and_counts_as_a_try(self) -> None:
        slots_set, messages = await self.validate(
            form_turn("keisha@", requested="verification_contact", slots={"order_number": "55123"})
        )
        self.assertEqual(messages, [{"response": "utter_verification_contact_not_understood"}])
        self.assertEqual(slots_set["verification_attempts"], 1)
        self.assert_asks_next(slots_set)

    async def test_no_contact_at_all_ends_with_the_pointer_answer(self) -> None:
        slots_set, messages = await self.validate(
            form_turn(
                "never mind", requested="verification_contact", slots={"order_number": "55123"}
            )
        )
        self.assertEqual(messages, [])
        self.assertEqual(slots_set["lookup_refusal"], "no_contact")
        self.assertEqual(slots_set["requested_slot"], None)
        self.assertEqual(self.platform.codes_sent, [])

    async def test_a_platform_outage_while_sending_ends_with_the_pointer_answer(self) -> None:
        self.platform.go_down()
        slots_set, messages = await self.validate(
            form_turn(EMAIL, requested="verification_contact", slots={"order_number": "55123"})
        )
        self.assertEqual(messages, [])
        self.assertEqual(slots_set["lookup_refusal"], "platform_unavailable")
        self.assertEqual(slots_set["requested_slot"], None)


if __name__ == "__main__":
    unittest.main()
