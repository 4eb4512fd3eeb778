"""What a channel's sender is given and what it answers: the outbox's contract with channels.

Each channel implements `ChannelSender` (and `LiveSender` when the customer holds a connection
open, `Reconciling` when its vendor can say what it already has); `bot/outbox.py` does the
claiming, ordering, retrying and recording around them.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from bot.messages import Channel, Reply
from bot.store.models import Delivery, DeliveryStatus

logger = logging.getLogger("bot.outbox")  # what happens to a delivery is the outbox's story

GIVE_UP_AFTER = timedelta(hours=24)  # the response promise: past it a retry helps no one
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class OutboundJob:
    """One delivery as a sender sees it."""

    delivery_id: int
    conversation_id: int
    channel: Channel
    address: str
    body: dict[str, Any]
    created_at: datetime | None = None
    # An earlier attempt was cut off: the vendor may already have this message.
    in_doubt: bool = False


@dataclass(frozen=True, slots=True)
class Sent:
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryLater:
    error: str
    retry_after: float | None = None  # seconds, when the vendor said (HTTP 429)
    # The request may have reached the vendor (a timeout, a dropped connection): look before
    # sending again.
    in_doubt: bool = False


@dataclass(frozen=True, slots=True)
class Failed:
    """Permanent: the vendor will never take it (unsubscribed, blocked, invalid number)."""

    error: str


@dataclass(frozen=True, slots=True)
class Offline:
    """The customer cannot be reached live now (web chat closed); send when they come back."""


Outcome = Sent | RetryLater | Failed | Offline


@runtime_checkable
class LiveSender(Protocol):
    """A channel that delivers over a connection the customer holds open (web chat).

    Whether the customer is connected is known before sending, and sending cannot fail for a
    passing reason, so the outcome is written with the reply itself: no lease, no second write.
    """

    live: bool

    async def reachable(self, address: str) -> bool: ...


class ChannelSender(Protocol):
    """The outbound half of a channel."""

    channel: Channel

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """The bodies to send for `reply`, one per vendor message (long texts split)."""
        ...

    async def send(self, job: OutboundJob) -> Outcome:
        """Send one body; never raise for vendor or network faults, return the outcome."""
        ...


@runtime_checkable
class Reconciling(Protocol):
    """A sender that can ask its vendor what was sent, to settle a delivery in doubt."""

    async def find_sent(self, job: OutboundJob) -> list[str]:
        """Vendor ids of messages matching `job` sent since it was created, oldest first."""
        ...


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 … seconds, at most five minutes."""
    base: float = min(2.0**attempts, MAX_BACKOFF_SECONDS)
    return base * random.uniform(0.8, 1.2)


def apply_outcome(delivery: Delivery, outcome: Outcome, now: datetime) -> None:
    """Record what a send attempt came to on its delivery row: sent, retry when, or failed."""
    match outcome:
        case Sent(provider_message_id=provider_id):
            delivery.attempts += 1
            delivery.in_doubt = False
            delivery.status = DeliveryStatus.SENT
            delivery.accepted_at = delivery.accepted_at or now
            delivery.provider_message_id = provider_id
            delivery.next_attempt_at = None
            delivery.last_error = None
        case Offline():
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = None  # sent when the customer reconnects
        case RetryLater(error=error, retry_after=retry_after, in_doubt=in_doubt):
            delivery.attempts += 1
            delivery.last_error = error
            delivery.in_doubt = in_doubt
            if now - delivery.created_at > GIVE_UP_AFTER:
                delivery.status = DeliveryStatus.FAILED
                logger.error("outbox.gave_up delivery_id=%s error=%s", delivery.id, error)
                return
            delay = retry_after if retry_after is not None else backoff_seconds(delivery.attempts)
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        case Failed(error=error):
            delivery.attempts += 1
            delivery.in_doubt = False
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = error
            delivery.next_attempt_at = None
            logger.warning(
                "outbox.failed delivery_id=%s channel=%s error=%s",
                delivery.id,
                delivery.channel,
                error,
            )
