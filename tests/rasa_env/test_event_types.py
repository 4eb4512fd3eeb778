"""Event classes are found by name as Rasa finds them, remembered or not."""

import unittest

from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

import connectors.gateway  # noqa: F401 (installs the remembered lookup, as Rasa's loading does)
from connectors.event_types import rasa_resolve_by_type, resolve_by_type


class EventTypesTest(unittest.TestCase):
    def test_event_lookups_use_the_remembered_classes(self) -> None:
        self.assertIs(Event.resolve_by_type, resolve_by_type)

    def test_every_event_name_gives_rasa_s_class_twice_over(self) -> None:
        names = {cls.type_name for cls in all_subclasses(Event)}
        self.assertIn("user", names)
        for name in sorted(names):
            with self.subTest(name):
                expected = rasa_resolve_by_type(name)
                self.assertIs(resolve_by_type(name), expected)
                self.assertIs(resolve_by_type(name), expected)  # now remembered

    def test_unknown_names_and_the_default_behave_as_in_rasa(self) -> None:
        self.assertIsNone(resolve_by_type("topic"))
        self.assertIs(resolve_by_type("no_such_event", ActionExecuted), ActionExecuted)
        with self.assertRaises(ValueError):
            resolve_by_type("no_such_event")
        # A known name wins over the default, as in Rasa's own lookup.
        self.assertIs(resolve_by_type("slot", ActionExecuted), SlotSet)

    def test_stored_events_read_back_as_before(self) -> None:
        stored = {
            "event": "user",
            "text": "where is my order",
            "parse_data": {"intent": {"name": "track_order", "confidence": 0.9}, "entities": []},
        }
        for _ in range(2):  # found by Rasa's walk, then remembered
            event = Event.from_parameters(stored)
            self.assertIsInstance(event, UserUttered)
            self.assertEqual(event.intent_name, "track_order")


if __name__ == "__main__":
    unittest.main()
