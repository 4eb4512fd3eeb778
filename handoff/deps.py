"""FastAPI dependencies for the rep API: the store session, the signed-in rep, a conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Conversation, Rep, Role, SessionKind, utcnow
from handoff.desk import RepDesk
from handoff.errors import NotAuthenticated, NotFound
from handoff.live import LiveHub
from handoff.permissions import require_role
from handoff.presence import SEEN_EVERY, note_seen
from handoff.reading import record_read, require_read
from handoff.tokens import rep_for_token


def get_desk(request: Request) -> RepDesk:
    """The queue's parts (handoff/desk.py), put on the app by the gateway."""
    desk: RepDesk = request.app.state.desk
    return desk


DeskDep = Annotated[RepDesk, Depends(get_desk)]


def get_live(desk: DeskDep) -> LiveHub:
    return desk.live


LiveDep = Annotated[LiveHub, Depends(get_live)]


async def get_session(desk: DeskDep) -> AsyncIterator[AsyncSession]:
    async with desk.session_factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False, description="A token from `POST /api/auth/login`, as `Bearer <token>`."
)


async def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise NotAuthenticated("Sign in first: send `Authorization: Bearer <token>`.")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


async def get_current_rep(session: SessionDep, token: TokenDep, desk: DeskDep) -> Rep:
    now = utcnow()
    rep = await rep_for_token(session=session, token=token, kind=SessionKind.API, now=now)
    if rep is None:
        raise NotAuthenticated("The token is unknown, expired or revoked: sign in again.")
    if rep.last_seen_at is None or now - rep.last_seen_at >= SEEN_EVERY:
        # An API client at work counts as present, as an open console does.
        await note_seen(desk.session_factory, desk.live, rep_id=rep.id, now=now)
        await session.refresh(rep)
    return rep


CurrentRep = Annotated[Rep, Depends(get_current_rep)]


async def get_supervisor(rep: CurrentRep) -> Rep:
    require_role(rep, Role.SUPERVISOR)
    return rep


SupervisorRep = Annotated[Rep, Depends(get_supervisor)]


async def get_admin(rep: CurrentRep) -> Rep:
    require_role(rep, Role.ADMIN)
    return rep


AdminRep = Annotated[Rep, Depends(get_admin)]


# Row ids are INTEGER columns (32 bits on PostgreSQL): a larger id in a path names no row, and
# the database driver would refuse it with an error (a 500) instead of the 422 it deserves.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


async def get_conversation(
    conversation_id: RowId, session: SessionDep, rep: CurrentRep, desk: DeskDep
) -> Conversation:
    """The conversation in the path (404 when there is none), after the rep is known (401),
    if they may read it (403); the read is recorded. Every route answers with the transcript."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id}.")
    await require_read(session, conversation=conversation, rep=rep)
    await record_read(desk.session_factory, conversation_id=conversation.id, rep=rep, via="api")
    return conversation


ConversationDep = Annotated[Conversation, Depends(get_conversation)]
