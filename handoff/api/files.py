"""Files customers sent (and reps attached), for signed-in reps only, through expiring links.

`GET /api/conversations/{id}/files/{folder}/{name}` (the address the transcript shows) answers
a signed-in rep (console cookie or API token) who may read that conversation (handoff/reading.py)
with a redirect to a link that lives FILE_LINK_SECONDS; that link serves the file, again to such
a rep only, and only a file of that conversation's messages. A link copied out of the console
is of no use to anyone else, and of no use to the rep either once it has expired. Each opening
is recorded as a read of the conversation.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession

from bot.files.intake import TooLarge, file_name, read_at_most
from bot.files.store import valid_key
from bot.store.models import Conversation, Rep, SessionKind, utcnow
from handoff import replies
from handoff.console.session import SESSION_COOKIE
from handoff.deps import ConversationDep, CurrentRep, DeskDep, RowId, SessionDep, _bearer
from handoff.desk import RepDesk
from handoff.errors import Invalid, NotAuthenticated, NotFound
from handoff.reading import record_read, require_read
from handoff.rep_files import send_rep_file
from handoff.retention import files_of
from handoff.schemas import ReplyPublic
from handoff.tokens import rep_for_token

router = APIRouter(prefix="/api/conversations/{conversation_id}/files", tags=["files"])
# The gateway's body limit for a rep's file is MAX_UPLOAD_BYTES, not the API's (gateway/app.py).
REP_FILES_PATH = re.compile(r"^/(api|console)/conversations/\d+/files?$")
REP_LINK = "rep-file"  # what links made here are for (bot/files/links.py)


async def get_signed_in_rep(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Rep:
    """The rep signed in to the console (cookie) or holding an API token; 401 otherwise."""
    now = utcnow()
    if credentials is not None:
        rep = await rep_for_token(
            session=session, token=credentials.credentials, kind=SessionKind.API, now=now
        )
    else:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        rep = await rep_for_token(session=session, token=cookie, kind=SessionKind.CONSOLE, now=now)
    if rep is None:
        raise NotAuthenticated("Sign in first: files are shown to signed-in reps only.")
    return rep


SignedInRep = Annotated[Rep, Depends(get_signed_in_rep)]


async def _readable_file(
    session: AsyncSession, desk: RepDesk, *, conversation_id: int, key: str, rep: Rep
) -> str:
    """`key`, when it is a file of this conversation's messages and `rep` may read it."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not valid_key(key):
        raise NotFound("There is no such file.")
    await require_read(session, conversation=conversation, rep=rep)
    if key not in await files_of(session, [conversation_id]):
        raise NotFound("There is no such file in this conversation.")
    await record_read(desk.session_factory, conversation_id=conversation_id, rep=rep, via="file")
    return key


async def open_file(
    request: Request,
    conversation_id: RowId,
    folder: str,
    name: str,
    rep: SignedInRep,
    session: SessionDep,
    desk: DeskDep,
) -> RedirectResponse:
    """A short-lived link to one of the conversation's files, for a rep who may read it."""
    key = await _readable_file(
        session, desk, conversation_id=conversation_id, key=f"{folder}/{name}", rep=rep
    )
    query = desk.file_links.query(REP_LINK, key, seconds=desk.file_link_seconds)
    # Under the path it was asked on: the console's cookie is sent for /console/ only.
    area = "console" if request.url.path.startswith("/console/") else "api"
    return RedirectResponse(
        f"/{area}/conversations/{conversation_id}/files/{key}/content?{query}", status_code=303
    )


async def file_content(
    conversation_id: RowId,
    folder: str,
    name: str,
    rep: SignedInRep,
    session: SessionDep,
    desk: DeskDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """The file, while the link lives."""
    key = f"{folder}/{name}"
    if not valid_key(key) or not desk.file_links.valid(REP_LINK, key, expires, signature):
        raise NotFound("This link has expired. Open the file from the conversation again.")
    await _readable_file(session, desk, conversation_id=conversation_id, key=key, rep=rep)
    found = await desk.files.get(key)
    if found is None:
        raise NotFound("There is no such file (it may have been deleted under retention).")
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            # Shown in the browser but never able to run script on the gateway's origin.
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; "
            "style-src 'unsafe-inline'; plugin-types application/pdf",
            "Content-Disposition": f'inline; filename="{key.rsplit("/", 1)[1]}"',
        },
    )


# The same two routes in the console, where the session cookie is sent (its path is /console).
console_router = APIRouter(
    prefix="/console/conversations/{conversation_id}/files", include_in_schema=False
)
for _router in (router, console_router):
    _router.get("/{folder}/{name}", status_code=303, response_class=RedirectResponse)(open_file)
    _router.get("/{folder}/{name}/content")(file_content)


@router.post("", status_code=201)
async def send_file(
    conversation: ConversationDep,
    rep: CurrentRep,
    session: SessionDep,
    desk: DeskDep,
    request: Request,
    text: Annotated[str | None, Query(max_length=2000)] = None,
) -> ReplyPublic:
    """Send a photo or PDF (the request body; its name in `X-File-Name`, URI-encoded) to the
    customer, with `text` or else its name: media on WhatsApp and MMS, a document on Telegram,
    a link on web chat. The rep must own the conversation, as for any reply."""
    try:
        data = await read_at_most(request, desk.max_upload_bytes)
    except TooLarge as error:
        raise Invalid(f"Files up to {desk.max_upload_bytes:,} bytes can be sent.") from error
    message_id = await send_rep_file(
        session=session,
        replies_service=desk.replies,
        files=desk.files,
        conversation_id=conversation.id,
        rep=rep,
        data=data,
        name=file_name(request.headers.get("x-file-name")),
        text=text,
    )
    return ReplyPublic(
        message_id=message_id,
        delivery_status=await replies.delivery_status(session=session, message_id=message_id),
    )
