"""The outbound half: one sender per channel (SMS, WhatsApp), both through Twilio's Messages API.

Checked at send time, not when the reply was queued, because a retry may go out hours later:
a contact who sent STOP gets nothing more, and on WhatsApp a free-form message may only go
within 24 hours of the customer's last message; outside that window it goes as the approved
template, or fails with the reason recorded on the delivery.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files.links import MediaLinks
from bot.messages import Channel, Reply
from bot.policy import whatsapp_window_open
from bot.sending import Failed, OutboundJob, Outcome, RetryLater, Sent
from bot.store.db import reading
from bot.store.models import Contact, Conversation, utcnow
from channels.twilio.consent import set_opted_out
from channels.twilio.inbound import WHATSAPP_PREFIX
from channels.twilio.rest import UNSUBSCRIBED, TwilioMessages, error_code, outcome_of
from channels.twilio.sms_text import render_text

logger = logging.getLogger(__name__)

# Twilio's clock and ours may differ a little; a message Twilio dates this much before the
# delivery was queued still counts as possibly ours.
CLOCK_SKEW = timedelta(minutes=2)
# WhatsApp refuses template variables with line breaks, tabs or long runs of spaces, and the
# whole template body must stay under 1,024 characters.
TEMPLATE_VARIABLE_MAX_CHARS = 900
_RUN_OF_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Recipient:
    opted_out: bool
    last_customer_message_at: datetime | None


class TwilioSender:
    """Sends a channel's deliveries from its Twilio sender (a number, or a WhatsApp sender)."""

    def __init__(
        self,
        channel: Channel,
        *,
        messages: TwilioMessages,
        session_factory: async_sessionmaker[AsyncSession],
        sender: str,
        sender_setting: str,
        status_callback: str,
        template_sid: str = "",
        media_links: MediaLinks | None = None,
    ) -> None:
        self.channel = channel
        self._messages = messages
        self._session_factory = session_factory
        if channel == Channel.WHATSAPP and sender and not sender.startswith(WHATSAPP_PREFIX):
            sender = WHATSAPP_PREFIX + sender
        self._sender = sender
        self._sender_setting = sender_setting
        self._status_callback = status_callback
        self._template_sid = template_sid
        self._media_links = media_links  # None: attachments go out as their names only

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        parts = render_text(reply.text, reply.buttons, language=reply.language)
        bodies: list[dict[str, Any]] = [{"text": part} for part in parts]
        file = reply.attachment.file if reply.attachment is not None else None
        if file and self._media_links is not None and bodies:
            # MMS and WhatsApp media: Twilio fetches the file from this expiring link.
            bodies[0]["media_url"] = self._media_links.url(file)
        return bodies

    async def send(self, job: OutboundJob) -> Outcome:
        text = job.body.get("text")
        if not isinstance(text, str) or not text:
            return Failed(error="the delivery has no text to send")
        if not (self._messages.configured and self._sender):
            # Kept, not failed: once the setting is fixed the retries go out.
            return RetryLater(
                error=f"the {self.channel} channel is not configured: set TWILIO_ACCOUNT_SID, "
                f"TWILIO_AUTH_TOKEN and {self._sender_setting}"
            )
        try:
            recipient = await self._recipient(job.conversation_id)
        except Exception as error:
            return RetryLater(error=f"store unavailable: {type(error).__name__}")
        if recipient is None:
            return Failed(error=f"conversation {job.conversation_id} no longer exists")
        if recipient.opted_out:
            return Failed(error="recipient opted out")
        params: dict[str, Any] = {
            "to": job.address,
            "from_": self._sender,
            "status_callback": self._status_callback,
        }
        if self.channel == Channel.WHATSAPP and not _in_window(recipient):
            if not self._template_sid:
                logger.warning(
                    "twilio.whatsapp_window_closed delivery_id=%s conversation_id=%s",
                    job.delivery_id,
                    job.conversation_id,
                )
                return Failed(
                    error="outside WhatsApp's 24-hour customer-service window and no template "
                    "is configured (TWILIO_WHATSAPP_TEMPLATE_SID): the customer must write first"
                )
            params["content_sid"] = self._template_sid
            params["content_variables"] = json.dumps({"1": template_variable(text)})
        else:
            params["body"] = text
            media_url = job.body.get("media_url")
            if isinstance(media_url, str) and media_url:
                params["media_url"] = [media_url]
        return await self._create(job, params)

    async def _create(self, job: OutboundJob, params: dict[str, Any]) -> Outcome:
        try:
            sid = await self._messages.create(**params)
        except Exception as error:
            outcome = outcome_of(error)
            if error_code(error) == UNSUBSCRIBED:
                # The customer opted out with Twilio directly; keep our record in step.
                await self._note_opted_out(job.conversation_id)
            return outcome
        logger.debug(
            "twilio.sent delivery_id=%s channel=%s sid=%s template=%s",
            job.delivery_id,
            self.channel,
            sid,
            "content_sid" in params,
        )
        return Sent(provider_message_id=sid)

    async def find_sent(self, job: OutboundJob) -> list[str]:
        """Twilio's ids of messages with this job's text sent to its address since it was queued.

        A template send (outside WhatsApp's window) shows Twilio's rendering, not our text, so
        it is never found and an interrupted one is sent again.
        """
        text = job.body.get("text")
        if not isinstance(text, str) or not text or not self._messages.configured:
            return []
        since = (job.created_at or utcnow()) - CLOCK_SKEW
        found = await self._messages.recent(to=job.address, from_=self._sender)
        matching = [
            m for m in found if m.body == text and (m.created_at is None or m.created_at >= since)
        ]
        matching.sort(key=lambda m: m.created_at or since)
        return [m.sid for m in matching]

    async def _recipient(self, conversation_id: int) -> Recipient | None:
        async with reading(self._session_factory) as session:
            row = (
                await session.execute(
                    select(Contact.opted_out_at, Conversation.last_customer_message_at)
                    .join(Contact, Contact.id == Conversation.contact_id)
                    .where(Conversation.id == conversation_id)
                )
            ).first()
        if row is None:
            return None
        return Recipient(opted_out=row[0] is not None, last_customer_message_at=row[1])

    async def _note_opted_out(self, conversation_id: int) -> None:
        try:
            await set_opted_out(
                self._session_factory, conversation_id=conversation_id, opted_out=True
            )
        except Exception:
            logger.warning("twilio.opt_out_not_noted conversation_id=%s", conversation_id)
        else:
            logger.info("twilio.opted_out_at_twilio conversation_id=%s", conversation_id)


def _in_window(recipient: Recipient) -> bool:
    return whatsapp_window_open(recipient.last_customer_message_at, utcnow())


def template_variable(text: str) -> str:
    """`text` as a WhatsApp template variable: one line, clipped to what a template can hold."""
    flat = _RUN_OF_SPACE.sub(" ", text).strip()
    if len(flat) > TEMPLATE_VARIABLE_MAX_CHARS:
        flat = flat[: TEMPLATE_VARIABLE_MAX_CHARS - 1].rstrip() + "…"
    return flat
