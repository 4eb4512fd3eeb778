"""SMS and WhatsApp through Twilio: one webhook for both channels in, one sender each out.

- `webhooks`: signature check, parse, store, acknowledge; delivery status callbacks.
- `inbound`: Twilio's form as an `InboundMessage` (media and locations as attachments).
- `consent`: STOP / START / HELP.
- `outbound`, `rest`: the senders, through the twilio library's async REST client.
- `sms_text`: long texts split for SMS and WhatsApp, buttons as numbered options.
- `status`: delivery status callbacks recorded on the outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.outbox import Outbox
from bot.rate_limit import RateLimiter
from bot.settings import Settings
from channels.twilio.outbound import TwilioSender
from channels.twilio.rest import TwilioMessages
from channels.twilio.webhooks import STATUS_PATH, Router, Spawn, TwilioWebhooks

__all__ = ["TwilioChannel"]


class TwilioChannel:
    """Both halves of the SMS and WhatsApp channels."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._messages = TwilioMessages(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            api_base_url=settings.TWILIO_API_BASE_URL,
        )
        status_callback = f"{settings.PUBLIC_BASE_URL}{STATUS_PATH}"
        self.senders = (
            TwilioSender(
                Channel.SMS,
                messages=self._messages,
                session_factory=session_factory,
                sender=settings.TWILIO_SMS_FROM,
                sender_setting="TWILIO_SMS_FROM",
                status_callback=status_callback,
            ),
            TwilioSender(
                Channel.WHATSAPP,
                messages=self._messages,
                session_factory=session_factory,
                sender=settings.TWILIO_WHATSAPP_FROM,
                sender_setting="TWILIO_WHATSAPP_FROM",
                status_callback=status_callback,
                template_sid=settings.TWILIO_WHATSAPP_TEMPLATE_SID,
            ),
        )
        self._webhooks = TwilioWebhooks(settings, session_factory, rate_limiter=rate_limiter)

    def attach(
        self, *, router: Router, process: Callable[[int], None], spawn: Spawn, outbox: Outbox
    ) -> None:
        """Connect the webhooks to the conversation router, the background runner, the outbox."""
        self._webhooks.attach(router=router, process=process, spawn=spawn, outbox=outbox)

    def routes(self) -> APIRouter:
        return self._webhooks.routes()

    async def close(self) -> None:
        await self._messages.close()
