"""Clarifying what the customer meant when the assistant is unsure."""

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import translations
from actions.topics import TOPIC_TITLES

# A guess weaker than this is no help to the customer: ask them to rephrase instead.
MIN_GUESS_CONFIDENCE = 0.12


class ActionAskAffirmation(Action):
    """First stage of the two-stage fallback: the two likeliest topics, in the customer's words.

    Rasa's default asks about the intent's identifier ("Did you mean 'track_order'?"). Here the
    customer sees the two likeliest catalogue topics as buttons, plus "Something else"; a tap
    answers the question the customer meant (Rasa's two-stage fallback takes any clear intent
    as the clarification). With one plausible topic it is a yes/no question; with none (small
    talk or off-topic guesses, or guesses too weak) the customer is asked to say more. Words
    come in the conversation's language (`language` slot; actions/translations.py).
    Slots: `language`. Responses: `utter_ask_rephrase`.
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
        language = tracker.get_slot("language") or "en"
        words = translations.CLARIFY.get(language, translations.CLARIFY["en"])
        titles = translations.TOPIC_TITLES.get(language, TOPIC_TITLES)

        def title(intent: str) -> str:
            return titles.get(intent) or TOPIC_TITLES[intent]

        if not guesses:
            dispatcher.utter_message(response="utter_ask_rephrase")
        elif len(guesses) == 1:
            intent = guesses[0]
            dispatcher.utter_message(
                text=words["one"].format(topic=title(intent)),
                buttons=[
                    {"title": words["yes"], "payload": f"/{intent}"},
                    {"title": words["no"], "payload": "/out_of_scope"},
                ],
            )
        else:
            first, second = guesses
            dispatcher.utter_message(
                text=words["two"].format(first=title(first), second=title(second)),
                buttons=[
                    {"title": _capitalised(title(first)), "payload": f"/{first}"},
                    {"title": _capitalised(title(second)), "payload": f"/{second}"},
                    {"title": words["something_else"], "payload": "/out_of_scope"},
                ],
            )
        return []


def _capitalised(title: str) -> str:
    return title[:1].upper() + title[1:]
