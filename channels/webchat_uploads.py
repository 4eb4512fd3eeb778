"""Photos and PDFs a web chat customer sends: `POST /channels/webchat/uploads`.

The body is the file itself; `X-Session-Id` is the customer's web chat session (the bearer
secret the gateway issued, channels/webchat_sessions.py) and `X-File-Name` its name
(URI-encoded, shown to reps only). The body is counted as it streams in and refused once past
MAX_UPLOAD_BYTES (the gateway's body limit counts too); its kind is read from its first bytes;
photos lose their metadata before they are stored. The file is stored first, then the
message that carries it (an attachment, as on SMS, WhatsApp and Telegram), so the bot says it
reads text only and a rep sees the file in the console. The widget is on other sites' pages,
so the route answers cross-origin requests (it needs no cookie, only the session id).
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.files.intake import NotAccepted, TooLarge, accepted, file_name, read_at_most
from bot.files.store import FileStore, new_key
from bot.inbox import Inbox, Taken
from bot.messages import Attachment, Channel, InboundMessage
from bot.rate_limit import RateLimiter
from bot.webchat_address import webchat_address
from channels.webchat_sessions import WebChatSessions

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/channels/webchat/uploads"
UPLOAD_LIMIT = "webchat-upload"  # rate-limit key beside the messages' own
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Session-Id, X-File-Name",
    "Access-Control-Max-Age": "600",
}


def _answer(status: int, **body: object) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_CORS)


def upload_routes(
    *,
    sessions: WebChatSessions,
    inbox: Inbox,
    files: FileStore,
    limiter: RateLimiter,
    max_bytes: int,
) -> APIRouter:
    router = APIRouter(tags=["webchat"])
    too_big = (
        f"That file is too big: files up to {max_bytes / (1024 * 1024):.0f} MB can be sent here."
    )

    @router.options(UPLOAD_PATH, include_in_schema=False)
    async def preflight() -> Response:
        return Response(status_code=204, headers=_CORS)

    @router.post(UPLOAD_PATH, status_code=201)
    async def upload(request: Request) -> JSONResponse:
        """Take one photo or PDF from a web chat customer (see the module's docstring)."""
        session_id = request.headers.get("x-session-id", "")
        if not _SESSION_ID.match(session_id) or not await sessions.accepts(session_id):
            return _answer(403, detail="Open the chat first: this chat session is not known.")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return _answer(413, detail=too_big)
        if not await limiter.allow(UPLOAD_LIMIT, session_id):
            logger.warning("rate_limited channel=webchat limit=upload")
            return _answer(429, detail="You're sending files too quickly. Please wait a moment.")
        try:
            data = await read_at_most(request, max_bytes)
        except TooLarge:
            logger.info("webchat.upload_too_large max_bytes=%s", max_bytes)
            return _answer(413, detail=too_big)
        try:
            data, kind = await accepted(data)
        except NotAccepted as refused:
            return _answer(415, detail=str(refused))
        key = new_key("webchat", kind.extension)
        name = file_name(request.headers.get("x-file-name"))
        try:
            await files.put(key, data, kind.content_type)
        except Exception:
            logger.exception("webchat.upload_store_failed")
            return _answer(503, detail="Sorry, we could not take your file just now.")
        attachment = Attachment(
            kind=kind.kind, content_type=kind.content_type, description=name, file=key
        )
        try:
            taken = await inbox.take(
                InboundMessage(
                    channel=Channel.WEBCHAT,
                    address=webchat_address(session_id),
                    text="",
                    attachments=(attachment,),
                ),
                now=True,
            )
        except Exception:
            logger.exception("webchat.upload_inbound_failed")
            await files.delete(key)  # no message refers to it
            return _answer(503, detail="Sorry, we could not take your file just now.")
        if taken == Taken.RATE_LIMITED:
            return _answer(429, detail="You're sending messages too quickly. Please wait.")
        logger.info("webchat.upload kind=%s bytes=%s", kind.content_type, len(data))
        return _answer(201, kind=kind.kind, name=name)

    return router
