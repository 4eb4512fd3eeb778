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
from bot.files.links import FileLinks
from bot.files.store import FileStore
from bot.outbox import DeliveryChange, Outbox
from bot.rasa_client import RasaClient
from bot.replies import ReplyService
from bot.response_clock import ResponseClock
from handoff.capacity import Capacity
from handoff.live import InProcessHub, LiveHub, delivery_changed, message_added, queue_changed
from handoff.routing import RoutingTable
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
    files: FileStore  # customers' uploads and reps' attachments (bot/files/store.py)
    file_links: FileLinks  # the expiring links reps open them through
    file_link_seconds: int  # FILE_LINK_SECONDS: how long such a link lives
    max_upload_bytes: int  # MAX_UPLOAD_BYTES: the largest file a rep may attach
    routing: RoutingTable  # teams, and which team serves a handoff (handoff/routing.yml)
    capacity: Capacity  # default limits of open conversations per rep
    # TWILIO_WHATSAPP_TEMPLATE_SID is set: a reply outside WhatsApp's window goes as the template
    whatsapp_template: bool = False
    # The clocks' targets, named in reports; None: the settings' defaults.
    response_clock: ResponseClock | None = None
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
        files: FileStore,
        file_links: FileLinks,
        file_link_seconds: int,
        max_upload_bytes: int,
        whatsapp_template: bool = False,
        live: LiveHub | None = None,
        response_clock: ResponseClock | None = None,
        routing: RoutingTable | None = None,
        capacity: Capacity | None = None,
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
            files=files,
            file_links=file_links,
            file_link_seconds=file_link_seconds,
            max_upload_bytes=max_upload_bytes,
            response_clock=response_clock,
            routing=routing or RoutingTable.load(),
            capacity=capacity or Capacity(),
            whatsapp_template=whatsapp_template,
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
