"""Console pages: the queue and a conversation, plus the fragments live updates swap in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Conversation, Rep
from handoff.canned import list_canned
from handoff.console.render import SECURITY_HEADERS, page, render
from handoff.console.session import ConsoleUser, ConsoleUserDep
from handoff.contacts import contact_history
from handoff.deps import DeskDep, RowId, SessionDep
from handoff.errors import NotFound
from handoff.follow_ups import FollowUpStatus, list_follow_ups
from handoff.packet import conversation_detail, queue_items
from handoff.queue import assigned_to, waiting
from handoff.reading import record_read, record_refresh, require_read
from handoff.reopen import REOPENABLE
from handoff.schemas import ConversationPublic

router = APIRouter(prefix="/console", include_in_schema=False)

ConversationId = RowId


async def _queue_context(session: AsyncSession, user: ConsoleUser) -> dict[str, Any]:
    tiers = [1, 2] if user.is_supervisor else [1]
    queues = {
        tier: await queue_items(session, await waiting(session=session, rep=user.rep, tier=tier))
        for tier in tiers
    }
    mine = await queue_items(session, await assigned_to(session=session, rep=user.rep))
    # Overdue follow-ups reach their owner, and supervisors see everyone's.
    overdue = await list_follow_ups(
        session=session,
        status=FollowUpStatus.OVERDUE,
        owner_id=None if user.is_supervisor else user.rep.id,
    )
    return {"queues": queues, "mine": mine, "overdue_follow_ups": overdue}


@router.get("/queue")
async def queue_page(request: Request, user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    return page(request, "queue.html", user=user, **await _queue_context(session, user))


@router.get("/queue/fragment")
async def queue_fragment(user: ConsoleUserDep, session: SessionDep) -> HTMLResponse:
    html = render("_queue_live.html", user=user, **await _queue_context(session, user))
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def allowed_actions(detail: ConversationPublic, user: ConsoleUser) -> dict[str, bool]:
    """What the signed-in person may do with the conversation now (the services check again)."""
    state = detail.summary.state
    owner = detail.summary.assigned_rep.id if detail.summary.assigned_rep else None
    mine = owner == user.rep.id and state == "assigned"
    return {
        "claim": state == "queued" or (state == "escalated" and user.is_supervisor),
        "reply": mine,
        "release": state == "assigned" and (mine or user.is_supervisor),
        "escalate": mine and (detail.summary.tier or 1) < 2,
        "resolve": mine,
        "reassign": user.is_supervisor and state in ("queued", "assigned", "escalated"),
        "note": owner in (None, user.rep.id) or user.is_supervisor,
    }


async def _active_reps(session: AsyncSession) -> list[Rep]:
    return list(
        await session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.display_name))
    )


async def _read(
    session: AsyncSession,
    desk: DeskDep,
    conversation_id: int,
    user: ConsoleUser,
    *,
    refresh: bool = False,
) -> None:
    """404 without the conversation, 403 unless this person may read it; the read recorded
    (a live `refresh` of an open page only when no recent read of theirs covers it)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id}.")
    await require_read(session, conversation=conversation, rep=user.rep)
    record = record_refresh if refresh else record_read
    await record(desk.session_factory, conversation_id=conversation_id, rep=user.rep, via="console")


@router.get("/conversations/{conversation_id}")
async def conversation_page(
    request: Request,
    conversation_id: ConversationId,
    user: ConsoleUserDep,
    session: SessionDep,
    desk: DeskDep,
) -> HTMLResponse:
    await _read(session, desk, conversation_id, user)
    detail = await conversation_detail(
        session=session,
        conversation_id=conversation_id,
        whatsapp_template=desk.whatsapp_template,
    )
    history = await contact_history(
        session, detail.contact_id, leave_out_conversation=conversation_id
    )
    return page(
        request,
        "conversation.html",
        user=user,
        c=detail,
        can=allowed_actions(detail, user),
        canned=await list_canned(session=session),
        reps=await _active_reps(session),
        history=history.history,
        follow_ups=await _open_follow_ups(session, conversation_id, user),
    )


async def _open_follow_ups(
    session: AsyncSession, conversation_id: int, user: ConsoleUser
) -> list[dict[str, Any]]:
    """The conversation's open follow-ups, with what this person may do with each."""
    items = await list_follow_ups(
        session=session, status=FollowUpStatus.OPEN, conversation_id=conversation_id
    )
    out = []
    for f in items:
        mine = (f.owner is not None and f.owner.id == user.rep.id) or user.is_supervisor
        out.append(
            {
                **f.model_dump(),
                "can_reopen": mine and f.conversation_state in {s.value for s in REOPENABLE},
                "can_close": mine,
            }
        )
    return out


@router.get("/conversations/{conversation_id}/fragment")
async def conversation_fragment(
    conversation_id: ConversationId,
    user: ConsoleUserDep,
    session: SessionDep,
    desk: DeskDep,
) -> JSONResponse:
    """The parts of the conversation page that change while it is open, rendered (escaped)."""
    await _read(session, desk, conversation_id, user, refresh=True)
    detail = await conversation_detail(
        session=session,
        conversation_id=conversation_id,
        whatsapp_template=desk.whatsapp_template,
    )
    owner = detail.summary.assigned_rep
    return JSONResponse(
        {
            "state": detail.summary.state,
            "owner": owner.id if owner else None,
            "parts": {
                part: render(f"_{part}.html", c=detail, user=user)
                for part in ("summary", "transcript", "notes", "events")
            },
        },
        headers=SECURITY_HEADERS,
    )
