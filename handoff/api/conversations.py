"""`/api/conversations/{id}`: the handoff packet and transcript, and what a rep does with it."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import assignment, queue, replies, wrapup
from handoff.deps import (
    ConversationDep,
    CurrentRep,
    DeskDep,
    LiveDep,
    SessionDep,
    SupervisorRep,
)
from handoff.desk import RepDesk
from handoff.packet import conversation_detail
from handoff.schemas import (
    ConversationPublic,
    EscalationCreate,
    NoteCreate,
    NotePublic,
    ReassignmentCreate,
    RepBrief,
    ReplyCreate,
    ReplyPublic,
    WrapUpCreate,
)

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


async def _detail(session: AsyncSession, desk: RepDesk, conversation_id: int) -> ConversationPublic:
    return await conversation_detail(
        session=session,
        conversation_id=conversation_id,
        whatsapp_template=desk.whatsapp_template,
    )


@router.get("/{conversation_id}")
async def get_conversation(
    conversation: ConversationDep, session: SessionDep, desk: DeskDep
) -> ConversationPublic:
    """The handoff packet, the whole transcript, the audit trail, notes and wrap-ups."""
    return await _detail(session, desk, conversation.id)


@router.post("/{conversation_id}/claim")
async def claim(
    conversation: ConversationDep,
    rep: CurrentRep,
    session: SessionDep,
    live: LiveDep,
    desk: DeskDep,
) -> ConversationPublic:
    """Take this waiting conversation (409 when someone else has it)."""
    await queue.claim(session=session, conversation_id=conversation.id, rep=rep, live=live)
    return await _detail(session, desk, conversation.id)


@router.post("/{conversation_id}/release")
async def release(
    conversation: ConversationDep,
    rep: CurrentRep,
    session: SessionDep,
    live: LiveDep,
    desk: DeskDep,
) -> ConversationPublic:
    """Put it back in its queue."""
    await queue.release(session=session, conversation_id=conversation.id, rep=rep, live=live)
    return await _detail(session, desk, conversation.id)


@router.post("/{conversation_id}/replies", status_code=status.HTTP_201_CREATED)
async def reply(
    body: ReplyCreate,
    conversation: ConversationDep,
    rep: CurrentRep,
    session: SessionDep,
    desk: DeskDep,
) -> ReplyPublic:
    """Send a reply to the customer on their channel."""
    message_id = await replies.send_rep_reply(
        session=session,
        replies=desk.replies,
        conversation_id=conversation.id,
        rep=rep,
        text=body.text,
    )
    return ReplyPublic(
        message_id=message_id,
        delivery_status=await replies.delivery_status(session=session, message_id=message_id),
    )


@router.post("/{conversation_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(
    body: NoteCreate, conversation: ConversationDep, rep: CurrentRep, session: SessionDep,
    live: LiveDep,
) -> NotePublic:  # fmt: skip
    """Keep a private note (never sent to the customer)."""
    note = await replies.add_note(
        session=session, conversation_id=conversation.id, rep=rep, text=body.text, live=live
    )
    return NotePublic(
        id=note.id, created_at=note.created_at, rep=RepBrief.model_validate(rep), text=note.text
    )


@router.post("/{conversation_id}/escalate")
async def escalate(
    body: EscalationCreate, conversation: ConversationDep, rep: CurrentRep, session: SessionDep,
    live: LiveDep, desk: DeskDep,
) -> ConversationPublic:  # fmt: skip
    """Hand it to the supervisors (tier 2), with the reason."""
    await assignment.escalate(
        session=session, conversation_id=conversation.id, rep=rep, reason=body.reason, live=live
    )
    return await _detail(session, desk, conversation.id)


@router.post("/{conversation_id}/reassign")
async def reassign(
    body: ReassignmentCreate,
    conversation: ConversationDep,
    supervisor: SupervisorRep,
    session: SessionDep,
    live: LiveDep,
    desk: DeskDep,
) -> ConversationPublic:
    """Give it to the named rep (supervisors and admins)."""
    await assignment.reassign(
        session=session,
        conversation_id=conversation.id,
        supervisor=supervisor,
        username=body.username,
        live=live,
    )
    return await _detail(session, desk, conversation.id)


@router.post("/{conversation_id}/resolve")
async def resolve(
    body: WrapUpCreate,
    conversation: ConversationDep,
    rep: CurrentRep,
    session: SessionDep,
    desk: DeskDep,
) -> ConversationPublic:
    """Resolve with the wrap-up; the bot takes over and the customer is asked for a rating."""
    await wrapup.resolve(
        session=session,
        replies=desk.replies,
        conversation_id=conversation.id,
        rep=rep,
        wrap_up=body,
        live=desk.live,
    )
    return await _detail(session, desk, conversation.id)
