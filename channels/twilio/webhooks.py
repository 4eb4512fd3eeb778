"""Twilio's webhooks: `POST /channels/twilio/webhook` (messages in), `/status` (delivery news).

Every request must carry a valid `X-Twilio-Signature`, computed over the public URL Twilio
called (PUBLIC_BASE_URL + path + query), so verification holds behind a reverse proxy. A
message is committed before Twilio is answered, and answered before the bot turn runs: Twilio
gets an empty TwiML `<Response/>` at once and replies go out through the outbox. A store that
cannot take the message gets a 503, never a 200 that loses it.

A sender over their rate limit is stored and acknowledged all the same, but not routed: no bot
turn, no reply. The limit is asked only once a message is newly stored, so Twilio retrying a
503, or delivering a MessageSid twice, costs the sender nothing; STOP, START and HELP never
count (consent first).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator

from bot.inbox import Inbox, Taken
from bot.messages import Direction, InboundMessage, Reply, SenderKind
from bot.outbox import Outbox
from bot.store.models import Message
from channels.twilio import consent
from channels.twilio.inbound import MalformedMessage, parse_message
from channels.twilio.status import StatusResult, record_status

logger = logging.getLogger(__name__)

PREFIX = "/channels/twilio"
WEBHOOK_PATH = f"{PREFIX}/webhook"
STATUS_PATH = f"{PREFIX}/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class TwilioWebhooks:
    """The inbound routes: messages to the inbox, delivery news to the outbox."""

    def __init__(
        self,
        *,
        auth_token: str,
        public_base_url: str,
        promise_hours: int,
        sms_from: str,
        whatsapp_from: str,
        session_factory: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        outbox: Outbox,
    ) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._public_base_url = public_base_url
        self._promise_hours = promise_hours
        self._sms_from = sms_from
        self._whatsapp_from = whatsapp_from
        self._session_factory = session_factory
        self._inbox = inbox
        self._outbox = outbox

    def routes(self) -> APIRouter:
        api = APIRouter(prefix=PREFIX, tags=["twilio"])
        api.add_api_route("/webhook", self.message, methods=["POST"], summary="Inbound message")
        api.add_api_route("/status", self.status, methods=["POST"], summary="Delivery status")
        return api

    async def message(self, request: Request) -> Response:
        """An inbound SMS or WhatsApp message: stored, acknowledged, then routed."""
        form = await self._verified_form(request)
        try:
            inbound = parse_message(form)
        except MalformedMessage as error:
            logger.info("twilio.malformed path=%s error=%s", request.url.path, error)
            raise HTTPException(status_code=400, detail=str(error)) from None
        try:
            await self._take(inbound, opt_out_type=form.get("OptOutType"))
        except Exception:
            logger.exception(
                "twilio.store_failed channel=%s message_sid=%s",
                inbound.channel,
                inbound.external_id,
            )
            raise HTTPException(
                status_code=503, detail="The message could not be stored; please retry."
            ) from None
        return _twiml()

    async def status(self, request: Request) -> Response:
        """A delivery status callback for a message we sent."""
        form = await self._verified_form(request)
        sid = form.get("MessageSid") or form.get("SmsSid")
        reported = form.get("MessageStatus") or form.get("SmsStatus")
        if not sid or not reported:
            raise HTTPException(
                status_code=400,
                detail="expected Twilio's status callback fields MessageSid and MessageStatus",
            )
        error_code = form.get("ErrorCode") or None
        try:
            result = await record_status(
                self._session_factory,
                outbox=self._outbox,
                message_sid=sid,
                twilio_status=reported,
                error_code=error_code,
            )
        except Exception:
            logger.exception("twilio.status_store_failed sid=%s", sid)
            raise HTTPException(status_code=503, detail="The status could not be stored.") from None
        # Applied or already there is the normal case; the others deserve a look.
        normal = result in {StatusResult.APPLIED, StatusResult.UNCHANGED}
        log = logger.debug if normal else logger.info
        log(
            "twilio.status sid=%s status=%s error_code=%s result=%s",
            sid,
            reported,
            error_code,
            result,
        )
        return _twiml()

    async def _verified_form(self, request: Request) -> Mapping[str, str]:
        if self._validator is None:
            logger.error("twilio.not_configured path=%s", request.url.path)
            raise HTTPException(
                status_code=503,
                detail="The Twilio channel is not configured: set TWILIO_AUTH_TOKEN.",
            )
        try:
            form = await request.form()
        except Exception as error:
            raise HTTPException(
                status_code=400, detail=f"expected a form-encoded body: {error}"
            ) from None
        if any(not isinstance(value, str) for _, value in form.multi_items()):
            raise HTTPException(status_code=400, detail="file uploads are not accepted here")
        signature = request.headers.get("X-Twilio-Signature")
        client = request.client.host if request.client else None
        if not signature:
            logger.warning("twilio.signature_missing path=%s client=%s", request.url.path, client)
            raise HTTPException(status_code=403, detail="X-Twilio-Signature is missing")
        url = self._public_url(request)
        if not self._validator.validate(url, form, signature):
            logger.warning(
                "twilio.signature_invalid path=%s client=%s url=%s", request.url.path, client, url
            )
            raise HTTPException(status_code=403, detail="X-Twilio-Signature is not valid")
        return {key: str(value) for key, value in form.items()}

    def _public_url(self, request: Request) -> str:
        """The URL Twilio called, as the outside sees it (Twilio signs that one)."""
        url = f"{self._public_base_url}{request.url.path}"
        return f"{url}?{request.url.query}" if request.url.query else url

    async def _take(self, inbound: InboundMessage, *, opt_out_type: str | None) -> None:
        # With Advanced Opt-Out, Twilio matched the keyword and answered it itself.
        matched_by_twilio = consent.keyword_of_opt_out_type(opt_out_type)
        keyword = matched_by_twilio or (
            None if inbound.attachments else consent.keyword_of(inbound.text)
        )
        if keyword is not None:
            await self._keyword(inbound, keyword, vendor_answered=matched_by_twilio is not None)
            return
        # Neither channel has buttons: a typed "1" chooses an option of the latest message.
        inbound = await self._inbox.with_chosen_option(inbound)
        taken = await self._inbox.take(inbound)
        if taken == Taken.DUPLICATE:
            logger.info("twilio.duplicate message_sid=%s", inbound.external_id)
        elif taken == Taken.RATE_LIMITED:
            # Stored as done, and acknowledged (Twilio would otherwise retry it): not routed.
            logger.warning(
                "rate_limited channel=%s message_sid=%s", inbound.channel, inbound.external_id
            )

    async def _keyword(
        self, inbound: InboundMessage, keyword: consent.Keyword, *, vendor_answered: bool
    ) -> None:
        """Log STOP/START/HELP without the bot; change consent; answer unless Twilio did."""
        received = await self._inbox.record(inbound)
        if received is None:
            logger.info("twilio.duplicate message_sid=%s", inbound.external_id)
            await self._reapply_consent(inbound, keyword)
            return
        conversation_id = received.conversation_id
        if keyword in (consent.Keyword.STOP, consent.Keyword.START):
            await consent.set_opted_out(
                self._session_factory,
                conversation_id=conversation_id,
                opted_out=keyword == consent.Keyword.STOP,
            )
        logger.info(
            "twilio.keyword keyword=%s channel=%s conversation_id=%s",
            keyword.value,
            inbound.channel,
            conversation_id,
        )
        if keyword != consent.Keyword.STOP and not vendor_answered:
            # Sent after Twilio is answered: the keyword itself is already committed.
            self._inbox.reply_later(
                conversation_id,
                partial(self._keyword_answer, keyword),
                name=f"twilio-keyword-{conversation_id}",
            )

    def _keyword_answer(self, keyword: consent.Keyword, language: str | None) -> Reply:
        """The answer to START or HELP, in the conversation's `language`."""
        if keyword == consent.Keyword.START:
            said = consent.resubscribed_text(language)
        else:
            said = consent.help_text(
                promise_hours=self._promise_hours,
                sms_number=self._sms_from,
                whatsapp_number=self._whatsapp_from.removeprefix("whatsapp:"),
                language=language,
            )
        return Reply(text=said, sender_kind=SenderKind.SYSTEM)

    async def _reapply_consent(self, inbound: InboundMessage, keyword: consent.Keyword) -> None:
        """A STOP or START stored before: apply its consent change again if it is still the
        sender's latest word.

        The keyword and the consent change are two transactions: a store that went away
        between them answered 503, and this retry is then the only chance to honour a STOP.
        Anything the customer sent since decides instead, so an old START never undoes a STOP.
        """
        if keyword not in (consent.Keyword.STOP, consent.Keyword.START):
            return
        async with self._session_factory() as session:
            stored = (
                await session.execute(
                    select(Message.id, Message.conversation_id).where(
                        Message.channel == inbound.channel,
                        Message.external_id == inbound.external_id,
                    )
                )
            ).first()
            if stored is None:
                return
            latest = await session.scalar(
                select(func.max(Message.id)).where(
                    Message.conversation_id == stored.conversation_id,
                    Message.direction == Direction.INBOUND,
                )
            )
        if latest == stored.id:
            await consent.set_opted_out(
                self._session_factory,
                conversation_id=stored.conversation_id,
                opted_out=keyword == consent.Keyword.STOP,
            )


def _twiml() -> Response:
    return Response(content=EMPTY_TWIML, media_type="text/xml")
