"""`POST /channels/telegram/webhook`: verify, parse, store once, answer at once.

Telegram redelivers an update on any answer other than 2xx, so the answer says what happened:
200 once the update is stored (or was before, or is not for us), 400 for a body that is not an
update (redelivering it would not help, but the sender is told why), 403 for a wrong secret,
503 when the update could not be stored (Telegram retries later; nothing is lost).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from channels.telegram.client import TelegramUnavailable
from channels.telegram.inbound import MalformedUpdate, parse_update

if TYPE_CHECKING:
    from channels.telegram.channel import TelegramBot

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


def webhook_router(bot: TelegramBot | None, *, secret_token: str) -> APIRouter:
    """The webhook route; `bot` is None when no bot token is configured.

    An update from a chat over its rate limit is stored and answered 200, `rate_limited`
    (Telegram would otherwise deliver it again and again), but not routed: no bot turn, no reply.
    """
    router = APIRouter(tags=["telegram"])

    # Not in /docs: that is the rep API; this is Telegram's contract.
    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> JSONResponse:
        if not secret_token:
            # Without the secret anyone could post updates as any customer: refuse them all.
            logger.error("telegram.webhook_refused reason=secret_not_configured")
            return _answer(
                503,
                "The Telegram webhook is not configured: set TELEGRAM_SECRET_TOKEN, then run "
                "`python -m gateway.cli telegram set-webhook`.",
            )
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), secret_token.encode()):
            logger.warning(
                "telegram.webhook_refused reason=%s client=%s",
                "missing_secret" if given is None else "wrong_secret",
                request.client.host if request.client else None,
            )
            return _answer(403, f"missing or wrong {SECRET_HEADER} header")
        if bot is None:
            logger.error("telegram.webhook_refused reason=bot_token_not_configured")
            return _answer(503, "Telegram is not configured: set TELEGRAM_BOT_TOKEN.")
        try:
            data = json.loads(await request.body())
        except ValueError:
            logger.warning("telegram.webhook_malformed error=not_json")
            return _answer(400, "The body is not JSON; expected a Telegram Update object.")
        try:
            update = parse_update(data, bot.client.bot)
        except MalformedUpdate as error:
            logger.warning("telegram.webhook_malformed error=%s", error)
            return _answer(400, str(error))
        try:
            # The limit is asked only once the update is stored (see TelegramIntake).
            outcome = await bot.intake.handle(update)
        except TelegramUnavailable as error:
            logger.warning(
                "telegram.update_deferred update_id=%s error=%s", update.update_id, error
            )
            return _answer(503, "Telegram could not be reached to check this update; retry.")
        except Exception as error:
            # Above all the store being unreachable: 503 makes Telegram deliver it again. The
            # traceback only at DEBUG: database errors quote the statement's parameters, which
            # hold what the customer wrote.
            logger.error(
                "telegram.update_not_stored update_id=%s error=%s",
                update.update_id,
                type(error).__name__,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            return _answer(503, "The update could not be stored; retry.")
        return JSONResponse({"status": str(outcome)})

    return router


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)
