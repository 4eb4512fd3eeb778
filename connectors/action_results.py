"""Action-server answers checked against a schema compiled once.

Rasa 3.6's `RemoteAction._validate_action_result` checks each answer of the action server
with `jsonschema.validate`, which first validates the schema itself against the JSON Schema
meta-schema, then builds a new validator, on every call. The schema never changes, so here it
is checked once and one validator is reused. Before this, the repeated work was a fifth of the
Rasa server's CPU on the turns that run a custom action (py-spy under `make bench`).

An answer is judged exactly as before: the same schema, the same best-match error, the same
message. `install()` runs when Rasa loads the gateway channel (connectors/gateway.py), so it
covers every Rasa process this project starts.
"""

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

# Rasa's own check, kept for comparison (tests/rasa_env/test_action_results.py).
rasa_validate_action_result = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(action: RemoteAction, result: Dict[Text, Any]) -> bool:
    """Rasa's check of an action server's answer; raises `jsonschema.ValidationError`."""
    error = exceptions.best_match(_validator().iter_errors(result))
    if error is not None:
        # Rasa's own wording, so logs read the same as without this module.
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            "For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    """Make every `RemoteAction` use the compiled validator."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
