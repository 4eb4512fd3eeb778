"""SMS and WhatsApp through Twilio: one webhook for both channels in, one sender each out.

- `webhooks`: signature check, parse, store, acknowledge; delivery status callbacks.
- `inbound`: Twilio's form as an `InboundMessage` (media and locations as attachments).
- `consent`: STOP / START / HELP.
- `outbound`, `rest`: the senders, through the twilio library's async REST client.
- `sms_text`: long texts split for SMS and WhatsApp, buttons as numbered options.
- `status`: delivery status callbacks recorded on the outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files.links import MediaLinks
from bot.inbox import Inbox
from bot.messages import Channel
from bot.outbox import Outbox
from bot.sending import ChannelSender
from bot.settings import Settings
from channels.contract import BackgroundLoop, ChannelDeps
from channels.twilio.outbound import TwilioSender
from channels.twilio.rest import TwilioMessages
from channels.twilio.webhooks import STATUS_PATH, TwilioWebhooks

__all__ = ["TwilioChannel", "from_settings"]


def from_settings(settings: Settings, deps: ChannelDeps) -> TwilioChannel:
    """Always on: without TWILIO_AUTH_TOKEN its webhooks refuse every request (503)."""
    return TwilioChannel(
        account_sid=settings.TWILIO_ACCOUNT_SID,
        auth_token=settings.TWILIO_AUTH_TOKEN,
        api_base_url=settings.TWILIO_API_BASE_URL,
        public_base_url=settings.PUBLIC_BASE_URL,
        sms_from=settings.TWILIO_SMS_FROM,
        whatsapp_from=settings.TWILIO_WHATSAPP_FROM,
        whatsapp_template_sid=settings.TWILIO_WHATSAPP_TEMPLATE_SID,
        promise_hours=settings.RESPONSE_PROMISE_HOURS,
        session_factory=deps.session_factory,
        inbox=deps.inbox,
        outbox=deps.outbox,
        media_links=deps.media_links,
    )


class TwilioChannel:
    """Both halves of the SMS and WhatsApp channels."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base_url: str,
        public_base_url: str,
        sms_from: str,
        whatsapp_from: str,
        whatsapp_template_sid: str,
        promise_hours: int,
        session_factory: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        outbox: Outbox,
        media_links: MediaLinks | None = None,
    ) -> None:
        self._messages = TwilioMessages(
            account_sid=account_sid, auth_token=auth_token, api_base_url=api_base_url
        )
        status_callback = f"{public_base_url}{STATUS_PATH}"
        self._senders = (
            TwilioSender(
                Channel.SMS,
                messages=self._messages,
                session_factory=session_factory,
                sender=sms_from,
                sender_setting="TWILIO_SMS_FROM",
                status_callback=status_callback,
                media_links=media_links,
            ),
            TwilioSender(
                Channel.WHATSAPP,
                messages=self._messages,
                session_factory=session_factory,
                sender=whatsapp_from,
                sender_setting="TWILIO_WHATSAPP_FROM",
                status_callback=status_callback,
                template_sid=whatsapp_template_sid,
                media_links=media_links,
            ),
        )
        self._webhooks = TwilioWebhooks(
            auth_token=auth_token,
            public_base_url=public_base_url,
            promise_hours=promise_hours,
            sms_from=sms_from,
            whatsapp_from=whatsapp_from,
            session_factory=session_factory,
            inbox=inbox,
            outbox=outbox,
        )

    def senders(self) -> Sequence[ChannelSender]:
        return self._senders

    def routes(self) -> APIRouter:
        return self._webhooks.routes()

    def loops(self) -> Sequence[BackgroundLoop]:
        return ()

    async def close(self) -> None:
        await self._messages.close()
