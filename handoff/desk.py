"""The human queue's per-process parts, built once with the gateway's other services."""

from __future__ import annotations

from dataclasses import dataclass

from bot.outbox import DeliveryChange, Outbox
from handoff.live import InProcessHub, LiveHub, delivery_changed
from handoff.throttle import LoginThrottles


@dataclass
class RepDesk:
    """Live updates for consoles, and the failed-login counts kept in memory."""

    live: LiveHub
    login_throttles: LoginThrottles

    @classmethod
    def start(cls, outbox: Outbox, *, live: LiveHub | None = None) -> RepDesk:
        """The desk, on `live` when given (shared by instances), else a hub of this process."""
        desk = cls(live=live or InProcessHub(), login_throttles=LoginThrottles())
        outbox.on_change(desk._delivery_changed)  # consoles show each reply's status live
        return desk

    def _delivery_changed(self, change: DeliveryChange) -> None:
        self.live.publish(
            delivery_changed(change.conversation_id, change.message_id, str(change.status))
        )

    def close(self) -> None:
        """Nothing to release: the hub lives and dies with the process."""
