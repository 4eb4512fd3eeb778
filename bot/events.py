"""What the core tells whoever listens: a message added to a conversation, a queue changed.

The core never imports the edges that care (the console's live hub); the composition root
subscribes them here. Listeners are called in the publisher's task, so they must not block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.messages import SenderKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MessageAdded:
    """A message (the customer's, or a reply) is committed to a conversation's log."""

    conversation_id: int
    message_id: int
    sender_kind: SenderKind


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """A conversation entered, left or moved in the human queue."""

    conversation_id: int


ConversationEvent = MessageAdded | QueueChanged
Listener = Callable[[ConversationEvent], None]


class Events:
    """A list of listeners; `publish` calls each and never raises."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("events.listener_failed event=%s", type(event).__name__)
