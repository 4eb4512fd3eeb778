"""Custom actions: a fresh dispatcher, trackers from small dicts, exact events and messages."""

import asyncio
import unittest
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import translations
from actions.fallback import ActionAskAffirmation
from actions.handoff import ActionHandoffToHuman
from actions.topics import TOPIC_TITLES


def tracker(
    text: str,
    intent: str,
    confidence: float = 0.9,
    ranking: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
    }
    return Tracker("conversation-1", slots or {}, latest, [], False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> "tuple[list, CollectingDispatcher]":
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, dispatcher


class HandoffTest(unittest.TestCase):
    def test_asking_for_a_person_is_a_normal_priority_customer_request(self) -> None:
        events, dispatcher = run(
            ActionHandoffToHuman(), tracker("agent pls", "contact_human_agent")
        )
        self.assertEqual(events, [SlotSet("handoff_reason", None)])
        self.assertEqual(len(dispatcher.messages), 1)
        self.assertEqual(
            dispatcher.messages[0]["custom"],
            {
                "handoff": {
                    "reason": "customer_request",
                    "priority": "normal",
                    "summary": "agent pls",
                }
            },
        )

    def test_a_complaint_is_high_priority(self) -> None:
        _, dispatcher = run(ActionHandoffToHuman(), tracker("worst service", "complaint"))
        self.assertEqual(dispatcher.messages[0]["custom"]["handoff"]["priority"], "high")
        self.assertEqual(dispatcher.messages[0]["custom"]["handoff"]["reason"], "complaint")

    def test_a_compromised_account_is_urgent_and_gets_first_steps_first(self) -> None:
        _, dispatcher = run(
            ActionHandoffToHuman(), tracker("someone hacked me", "account_compromised")
        )
        self.assertEqual(
            dispatcher.messages[0]["response"], "utter_account_compromised_first_steps"
        )
        handoff = dispatcher.messages[1]["custom"]["handoff"]
        self.assertEqual(
            (handoff["reason"], handoff["priority"]), ("account_compromised", "urgent")
        )

    def test_the_connect_me_button_after_fallback_is_a_repeated_fallback(self) -> None:
        t = tracker(
            '/contact_human_agent{"handoff_reason": "repeated_fallback"}',
            "contact_human_agent",
            slots={"handoff_reason": "repeated_fallback"},
        )
        _, dispatcher = run(ActionHandoffToHuman(), t)
        handoff = dispatcher.messages[0]["custom"]["handoff"]
        self.assertEqual(handoff["reason"], "repeated_fallback")
        self.assertIsNone(handoff["summary"])  # a button payload is not the customer's words

    def test_the_connect_me_button_after_an_unhelpful_answer_says_so(self) -> None:
        t = tracker(
            '/contact_human_agent{"handoff_reason": "faq_not_helpful"}',
            "contact_human_agent",
            slots={"handoff_reason": "faq_not_helpful"},
        )
        _, dispatcher = run(ActionHandoffToHuman(), t)
        handoff = dispatcher.messages[0]["custom"]["handoff"]
        self.assertEqual((handoff["reason"], handoff["priority"]), ("faq_not_helpful", "normal"))

    def test_the_summary_is_cut_to_280_characters(self) -> None:
        _, dispatcher = run(ActionHandoffToHuman(), tracker("x" * 1000, "complaint"))
        self.assertEqual(len(dispatcher.messages[0]["custom"]["handoff"]["summary"]), 280)


class AskAffirmationTest(unittest.TestCase):
    def test_the_two_likeliest_topics_are_offered_in_plain_words(self) -> None:
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.55},
            {"name": "get_invoice", "confidence": 0.45},
            {"name": "check_invoice", "confidence": 0.38},
            {"name": "greet", "confidence": 0.1},
        ]
        events, dispatcher = run(
            ActionAskAffirmation(), tracker("invoice pls", "nlu_fallback", 0.55, ranking)
        )
        self.assertEqual(events, [])
        [message] = dispatcher.messages
        self.assertEqual(
            message["text"],
            "Sorry, I want to be sure I understood. Is your question about getting a copy of an "
            "invoice, or checking an invoice?",
        )
        self.assertEqual(
            message["buttons"],
            [
                {"title": "Getting a copy of an invoice", "payload": "/get_invoice"},
                {"title": "Checking an invoice", "payload": "/check_invoice"},
                {"title": "Something else", "payload": "/out_of_scope"},
            ],
        )

    def test_a_single_plausible_topic_is_a_yes_or_no_question(self) -> None:
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.3},
            {"name": "track_refund", "confidence": 0.28},
            {"name": "greet", "confidence": 0.1},
        ]
        events, dispatcher = run(
            ActionAskAffirmation(), tracker("refund thing", "nlu_fallback", 0.3, ranking)
        )
        self.assertEqual(events, [])
        [message] = dispatcher.messages
        self.assertEqual(
            message["text"],
            "Sorry, I want to be sure I understood. Is your question about the status of a refund?",
        )
        self.assertEqual(
            message["buttons"],
            [
                {"title": "Yes", "payload": "/track_refund"},
                {"title": "No", "payload": "/out_of_scope"},
            ],
        )

    def test_the_question_comes_in_the_conversations_language(self) -> None:
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.55},
            {"name": "track_refund", "confidence": 0.45},
            {"name": "get_refund", "confidence": 0.38},
        ]
        t = tracker("ranbousman", "nlu_fallback", 0.55, ranking, slots={"language": "ht"})
        _, dispatcher = run(ActionAskAffirmation(), t)
        [message] = dispatcher.messages
        ht = translations.TOPIC_TITLES["ht"]
        self.assertEqual(
            message["text"],
            translations.CLARIFY["ht"]["two"].format(
                first=ht["track_refund"], second=ht["get_refund"]
            ),
        )
        self.assertEqual(
            [b["payload"] for b in message["buttons"]],
            ["/track_refund", "/get_refund", "/out_of_scope"],
        )
        self.assertEqual(
            message["buttons"][2]["title"], translations.CLARIFY["ht"]["something_else"]
        )

    def test_every_language_names_every_topic(self) -> None:
        for language, titles in translations.TOPIC_TITLES.items():
            self.assertEqual(set(titles), set(TOPIC_TITLES), language)
        for words in translations.CLARIFY.values():
            self.assertEqual(set(words), {"one", "two", "yes", "no", "something_else"})

    def test_no_plausible_topic_asks_to_rephrase(self) -> None:
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.3},
            {"name": "greet", "confidence": 0.2},
            {"name": "track_order", "confidence": 0.05},
        ]
        _, dispatcher = run(ActionAskAffirmation(), tracker("blorp", "nlu_fallback", 0.3, ranking))
        self.assertEqual([m["response"] for m in dispatcher.messages], ["utter_ask_rephrase"])


if __name__ == "__main__":
    unittest.main()
