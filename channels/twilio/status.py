"""Twilio's delivery status callbacks, recorded on the delivery with the same message SID.

Callbacks can arrive out of order (a late "sent" after "delivered"), so a delivery only moves
forward: once delivered, undelivered or failed it stays so (the outbox's
`record_final_status` applies it, and tells consoles). A final status can also overtake
the outbox's record of the send (the SID is stored with it, after Twilio answered and after the
conversation's other parts went out); it then waits a moment for that record, rather than be
lost or overwritten by it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbox import Outbox
from bot.store.db import reading
from bot.store.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

# Twilio's MessageStatus values. Queued or sent means Twilio took it: our `sent`.
TWILIO_STATUSES: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.SENT,
    "scheduled": DeliveryStatus.SENT,
    "queued": DeliveryStatus.SENT,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,  # WhatsApp
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
FINAL = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED})
# Twilio waits 15 s for an answer; stay well inside that.
WAIT_FOR_SEND_RECORD_SECONDS = 8.0
_POLL_SECONDS = 0.2


class StatusResult(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # already there, or already past it
    UNKNOWN_SID = "unknown_sid"
    UNKNOWN_STATUS = "unknown_status"
    NOT_RECORDED = "not_recorded"  # the send was never recorded in time


async def record_status(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    outbox: Outbox,
    message_sid: str,
    twilio_status: str,
    error_code: str | None,
) -> StatusResult:
    """Move the delivery with `message_sid` forward to what Twilio reports; never backwards."""
    target = TWILIO_STATUSES.get(twilio_status.strip().lower())
    if target is None:
        return StatusResult.UNKNOWN_STATUS
    if target not in FINAL:  # the outbox records `sent` itself
        current = await _current_status(session_factory, message_sid)
        return StatusResult.UNKNOWN_SID if current is None else StatusResult.UNCHANGED
    deadline = time.monotonic() + WAIT_FOR_SEND_RECORD_SECONDS
    while True:
        if await outbox.record_final_status(
            provider_message_id=message_sid, status=target, error=_error_text(target, error_code)
        ):
            return StatusResult.APPLIED
        current = await _current_status(session_factory, message_sid)
        if current is not None and current != DeliveryStatus.SENDING:
            return StatusResult.UNCHANGED
        if time.monotonic() > deadline:
            return StatusResult.UNKNOWN_SID if current is None else StatusResult.NOT_RECORDED
        await asyncio.sleep(_POLL_SECONDS)


def _error_text(target: DeliveryStatus, error_code: str | None) -> str | None:
    if target == DeliveryStatus.DELIVERED:
        return None
    return f"Twilio error {error_code}" if error_code else f"Twilio reported {target}"


async def _current_status(
    session_factory: async_sessionmaker[AsyncSession], message_sid: str
) -> DeliveryStatus | None:
    async with reading(session_factory) as session:
        status = await session.scalar(
            select(Delivery.status).where(Delivery.provider_message_id == message_sid).limit(1)
        )
    return DeliveryStatus(status) if status is not None else None
