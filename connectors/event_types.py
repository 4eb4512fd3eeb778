"""Rasa's event classes found by name once, not on every event read back.

Rasa 3.6 turns each stored event into its class with `Event.resolve_by_type`, which walks
every subclass of `Event` (recursively, checking each for abstractness) until one has the
name. A turn reads back every event of the conversation's session from the tracker store, so
the walk ran hundreds of times a turn: 5 % of the Rasa server's busy time under `make bench`.
Here a name found once is remembered; a name not yet found (or not found at all) goes to
Rasa's own walk, so the answer is always the one Rasa gives. `install()` runs when Rasa loads
the gateway channel (connectors/gateway.py).
"""

from typing import Dict, Optional, Text, Type

from rasa.shared.core.events import Event

# Rasa's own lookup, kept for names not seen yet and for comparison
# (tests/rasa_env/test_event_types.py).
rasa_resolve_by_type = Event.resolve_by_type
_found: Dict[Text, Type[Event]] = {}


def resolve_by_type(
    type_name: Text, default: Optional[Type[Event]] = None
) -> Optional[Type[Event]]:
    """The event class named `type_name`, as `Event.resolve_by_type` finds it."""
    found = _found.get(type_name)
    if found is not None:
        return found
    try:
        # Asked without the default, so that a class found is told from the default.
        found = rasa_resolve_by_type(type_name)
    except ValueError:
        if default is not None:
            return default
        raise
    if found is not None:
        _found[type_name] = found
    return found


def install() -> None:
    """Make every event lookup by name use the remembered classes."""
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
