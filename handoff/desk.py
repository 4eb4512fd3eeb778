"""The human queue's per-process parts, built once with the gateway's other services.

The desk is what the rep API and console routes are given (handoff/deps.py): the store, the
reply path, live updates, the login throttles, Rasa's tracker and the two settings they read;
nothing else of the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.events import ConversationEvent, Events, MessageAdded, QueueChanged
from bot.outbox import DeliveryChange, Outbox
from bot.rasa_client import RasaClient
from bot.replies import ReplyService
from handoff.live import InProcessHub, LiveHub, delivery_changed, message_added, queue_changed
from handoff.throttle import LoginThrottles


@dataclass
class RepDesk:
    """What the queue's routes use: store, replies, live updates, the failed-login counts kept
    in memory, Rasa's tracker (a customer's data on request)."""

    session_factory: async_sessionmaker[AsyncSession]
    replies: ReplyService
    live: LiveHub
    login_throttles: LoginThrottles
    rasa: RasaClient  # tracker export and erasure (handoff/customer_data.py)
    promise_hours: int  # RESPONSE_PROMISE_HOURS: reports' first-response target
    secure_cookies: bool  # the console's cookies need HTTPS (PUBLIC_BASE_URL is https)
    # Reports: the come-back window of "resolved by the assistant" (CONTAINMENT_COME_BACK_HOURS)
    # and whether the old containment figure is still shown (REPORTS_OLD_CONTAINMENT).
    come_back: timedelta = timedelta(hours=24)
    old_containment: bool = True

    @classmethod
    def start(
        cls,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        replies: ReplyService,
        outbox: Outbox,
        events: Events,
        rasa: RasaClient,
        promise_hours: int,
        secure_cookies: bool,
        live: LiveHub | None = None,
        come_back: timedelta = timedelta(hours=24),
        old_containment: bool = True,
    ) -> RepDesk:
        """The desk, on `live` when given (shared by instances), else a hub of this process,
        subscribed to what the core says happened."""
        desk = cls(
            session_factory=session_factory,
            replies=replies,
            live=live or InProcessHub(),
            login_throttles=LoginThrottles(),
            rasa=rasa,
            promise_hours=promise_hours,
            secure_cookies=secure_cookies,
            come_back=come_back,
            old_containment=old_containment,
        )
        events.subscribe(desk._conversation_changed)  # the queue and messages, live
        outbox.on_change(desk._delivery_changed)  # consoles show each reply's status live
        return desk

    def _conversation_changed(self, event: ConversationEvent) -> None:
        match event:
            case MessageAdded(conversation_id, message_id, sender_kind):
                self.live.publish(message_added(conversation_id, message_id, sender_kind))
            case QueueChanged(conversation_id):
                self.live.publish(queue_changed(conversation_id))

    def _delivery_changed(self, change: DeliveryChange) -> None:
        self.live.publish(
            delivery_changed(change.conversation_id, change.message_id, str(change.status))
        )

    def close(self) -> None:
        """Nothing to release: the hub lives and dies with the process."""
