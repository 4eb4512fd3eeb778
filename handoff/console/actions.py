"""Console forms on conversations: claim, take next, release, reply, note, escalate, reassign,
resolve. Each checks the CSRF token, calls the same service the API does, and goes back to the
page with a notice."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.files.intake import file_name
from bot.store.models import Conversation, Rep
from handoff import assignment, queue, replies, wrapup
from handoff.console.render import redirect
from handoff.console.session import FormUserDep
from handoff.deps import DeskDep, RowId, SessionDep
from handoff.errors import HandoffError
from handoff.live import LiveHub
from handoff.reading import require_read
from handoff.rep_files import send_rep_file
from handoff.schemas import FORM_TEXT_CAP, WrapUpCreate

router = APIRouter(prefix="/console", include_in_schema=False)

ConversationId = RowId
Text = Annotated[str, Form(max_length=FORM_TEXT_CAP)]


def _page(conversation_id: int) -> str:
    return f"/console/conversations/{conversation_id}"


async def _act(action: Awaitable[Any], *, back: str, done: str | None = None) -> RedirectResponse:
    try:
        await action
    except HandoffError as error:
        return redirect(back, notice=error.message)
    return redirect(back, notice=done)


@router.post("/queue/next")
async def take_next(
    user: FormUserDep, session: SessionDep, desk: DeskDep, tier: Annotated[int, Form()] = 1
) -> RedirectResponse:
    try:
        prefer = await queue.preference_of(session, user.rep, desk.routing.default_team)
        conversation = await queue.claim_next(
            session=session, rep=user.rep, tier=tier, live=desk.live, prefer=prefer
        )
    except HandoffError as error:
        return redirect("/console/queue", notice=error.message)
    if conversation is None:
        return redirect("/console/queue", notice=f"Nothing is waiting in tier {tier}.")
    return redirect(_page(conversation.id))


@router.post("/conversations/{conversation_id}/claim")
async def claim(
    conversation_id: ConversationId, user: FormUserDep, session: SessionDep, desk: DeskDep
) -> RedirectResponse:
    return await _act(
        queue.claim(session=session, conversation_id=conversation_id, rep=user.rep, live=desk.live),
        back=_page(conversation_id),
    )


@router.post("/conversations/{conversation_id}/release")
async def release(
    conversation_id: ConversationId, user: FormUserDep, session: SessionDep, desk: DeskDep
) -> RedirectResponse:
    try:
        await queue.release(
            session=session, conversation_id=conversation_id, rep=user.rep, live=desk.live
        )
    except HandoffError as error:
        return redirect(_page(conversation_id), notice=error.message)
    return redirect(
        "/console/queue", notice=f"Conversation {conversation_id} is back in the queue."
    )


@router.post("/conversations/{conversation_id}/reply")
async def reply(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    text: Text = "",
) -> RedirectResponse:
    return await _act(
        replies.send_rep_reply(
            session=session,
            replies=desk.replies,
            conversation_id=conversation_id,
            rep=user.rep,
            text=text,
        ),
        back=_page(conversation_id),
    )


@router.post("/conversations/{conversation_id}/file")
async def send_file(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    file: Annotated[UploadFile, File()],
    text: Text = "",
) -> RedirectResponse:
    """A photo or PDF as a reply (the gateway's body limit here is MAX_UPLOAD_BYTES)."""
    data = await file.read(desk.max_upload_bytes + 1)
    if len(data) > desk.max_upload_bytes:
        return redirect(
            _page(conversation_id),
            notice=f"Files up to {desk.max_upload_bytes:,} bytes can be sent.",
        )
    return await _act(
        send_rep_file(
            session=session,
            replies_service=desk.replies,
            files=desk.files,
            conversation_id=conversation_id,
            rep=user.rep,
            data=data,
            name=file_name(file.filename),
            text=text or None,
        ),
        back=_page(conversation_id),
        done="File sent.",
    )


@router.post("/conversations/{conversation_id}/note")
async def note(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    text: Text = "",
) -> RedirectResponse:
    return await _act(
        _note_if_readable(session, conversation_id, user.rep, text, desk.live),
        back=_page(conversation_id),
        done="Note saved (only reps can see it).",
    )


async def _note_if_readable(
    session: AsyncSession, conversation_id: int, rep: Rep, text: str, live: LiveHub
) -> Any:
    """A note needs no ownership, so the reading rule is its door (as in the API)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None:
        await require_read(session, conversation=conversation, rep=rep)
    return await replies.add_note(
        session=session, conversation_id=conversation_id, rep=rep, text=text, live=live
    )


@router.post("/conversations/{conversation_id}/escalate")
async def escalate(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    reason: Text = "",
) -> RedirectResponse:
    try:
        await assignment.escalate(
            session=session,
            conversation_id=conversation_id,
            rep=user.rep,
            reason=reason,
            live=desk.live,
        )
    except HandoffError as error:
        return redirect(_page(conversation_id), notice=error.message)
    return redirect("/console/queue", notice=f"Conversation {conversation_id} went to tier 2.")


@router.post("/conversations/{conversation_id}/reassign")
async def reassign(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    username: Annotated[str, Form(max_length=50)] = "",
) -> RedirectResponse:
    return await _act(
        assignment.reassign(
            session=session,
            conversation_id=conversation_id,
            supervisor=user.rep,
            username=username,
            live=desk.live,
        ),
        back=_page(conversation_id),
        done=f"Reassigned to {username}.",
    )


@router.post("/conversations/{conversation_id}/resolve")
async def resolve(
    conversation_id: ConversationId,
    user: FormUserDep,
    session: SessionDep,
    desk: DeskDep,
    nature_of_inquiry: Text = "",
    actions_taken: Text = "",
    follow_up: Annotated[str, Form(max_length=3)] = "no",
    follow_up_due: Annotated[str, Form(max_length=10)] = "",
    follow_up_owner: Annotated[str, Form(max_length=50)] = "",
) -> RedirectResponse:
    back = _page(conversation_id)
    try:
        wrap_up = WrapUpCreate(
            nature_of_inquiry=nature_of_inquiry.strip(),
            actions_taken=actions_taken.strip(),
            follow_up_required=follow_up == "yes",
            follow_up_due=date.fromisoformat(follow_up_due) if follow_up_due else None,
            follow_up_owner=follow_up_owner or None,
        )
    except ValueError as error:  # ValidationError is a ValueError too
        return redirect(back, notice=_wrap_up_problem(error))
    return await _act(
        wrapup.resolve(
            session=session,
            replies=desk.replies,
            conversation_id=conversation_id,
            rep=user.rep,
            wrap_up=wrap_up,
            live=desk.live,
        ),
        back=back,
        done="Resolved. The customer was asked to rate the help.",
    )


def _wrap_up_problem(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        fields = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        if fields:
            names = ", ".join(sorted(f.replace("_", " ") for f in fields))
            return f"The wrap-up is incomplete: fill in {names}."
        return "The wrap-up is incomplete: a follow-up needs a due date and an owner."
    return "The follow-up due date is not a date."
