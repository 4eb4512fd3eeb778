"""Clarifying what the customer meant when the assistant is unsure."""

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.topics import TOPIC_TITLES

# A guess weaker than this is no help to the customer: ask them to rephrase instead.
MIN_GUESS_CONFIDENCE = 0.12


class ActionAskAffirmation(Action):
    """First stage of the two-stage fallback: the two likeliest topics, in the customer's words.

    Rasa's default asks about the intent's identifier ("Did you mean 'track_order'?"). Here the
    customer sees the two likeliest catalogue topics as buttons, plus "Something else"; a tap
    answers the question the customer meant (Rasa's two-stage fallback takes any clear intent
    as the clarification). With one plausible topic it is a yes/no question; with none (small
    talk or off-topic guesses, or guesses too weak) the customer is asked to say more.
    Responses: `utter_ask_rephrase`.
    """

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        guesses = [
            r.get("name")
            for r in ranking
            if r.get("name") in TOPIC_TITLES and (r.get("confidence") or 0) >= MIN_GUESS_CONFIDENCE
        ][:2]
        if not guesses:
            dispatcher.utter_message(response="utter_ask_rephrase")
        elif len(guesses) == 1:
            intent = guesses[0]
            dispatcher.utter_message(
                text=f"Sorry, I want to be sure I understood. Is your question about "
                f"{TOPIC_TITLES[intent]}?",
                buttons=[
                    {"title": "Yes", "payload": f"/{intent}"},
                    {"title": "No", "payload": "/out_of_scope"},
                ],
            )
        else:
            first, second = guesses
            dispatcher.utter_message(
                text=f"Sorry, I want to be sure I understood. Is your question about "
                f"{TOPIC_TITLES[first]}, or {TOPIC_TITLES[second]}?",
                buttons=[
                    {"title": _capitalised(TOPIC_TITLES[first]), "payload": f"/{first}"},
                    {"title": _capitalised(TOPIC_TITLES[second]), "payload": f"/{second}"},
                    {"title": "Something else", "payload": "/out_of_scope"},
                ],
            )
        return []


def _capitalised(title: str) -> str:
    return title[:1].upper() + title[1:]
