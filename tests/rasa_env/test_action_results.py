"""Action-server answers are judged the same with the compiled schema as by Rasa itself."""

import unittest
from typing import Any, Dict, Optional

from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import connectors.gateway  # noqa: F401 (installs the compiled check, as Rasa's loading does)
from connectors.action_results import rasa_validate_action_result, validate_action_result

ANSWERS: Dict[str, Any] = {
    "empty": {},
    "events and responses": {
        "events": [
            {"event": "slot", "name": "order_number", "value": "55123"},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_listen"},
        ],
        "responses": [{"text": "Your order has shipped."}, {"response": "utter_greet"}],
    },
    "an event of no known kind": {"events": [{"event": "no_such_event"}]},
    "events not a list": {"events": "slot"},
    "a slot event without its name": {"events": [{"event": "slot", "value": 1}]},
    "a response that is not an object": {"responses": ["text"]},
    "not an object at all": ["events"],
}


def _outcome(check: Any, answer: Any) -> Optional[str]:
    """None when the answer passes, else the error's message."""
    action = RemoteAction("action_track_order", None)
    try:
        check(action, answer)
    except ValidationError as error:
        return error.message
    return None


class ActionResultTest(unittest.TestCase):
    def test_remote_actions_use_the_compiled_check(self) -> None:
        self.assertIs(RemoteAction._validate_action_result, validate_action_result)

    def test_every_answer_is_judged_as_rasa_judges_it(self) -> None:
        for name, answer in ANSWERS.items():
            with self.subTest(name):
                self.assertEqual(
                    _outcome(validate_action_result, answer),
                    _outcome(rasa_validate_action_result, answer),
                )

    def test_invalid_answers_are_refused_with_rasa_s_advice(self) -> None:
        message = _outcome(validate_action_result, ANSWERS["events not a list"])
        assert message is not None
        self.assertIn("Failed to validate Action server response", message)
        self.assertIsNone(_outcome(validate_action_result, ANSWERS["events and responses"]))


if __name__ == "__main__":
    unittest.main()
