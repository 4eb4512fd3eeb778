"""`/api/auth`: exchange a username and password for a bearer token, and revoke it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from bot.store.models import SessionKind, utcnow
from handoff.accounts import authenticate
from handoff.deps import CurrentRep, DeskDep, SessionDep, TokenDep
from handoff.schemas import LoginRequest, TokenPublic
from handoff.tokens import issue_token, revoke_token

router = APIRouter(prefix="/api/auth", tags=["auth"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "throttled"},
    },
)
async def login(
    body: LoginRequest, request: Request, session: SessionDep, desk: DeskDep
) -> TokenPublic:
    """A bearer token for the API; repeated failures are answered 429 with `Retry-After`."""
    now = utcnow()
    rep = await authenticate(
        session=session,
        username=body.username,
        password=body.password,
        address=client_address(request),
        throttles=desk.login_throttles,
        now=now,
    )
    issued = await issue_token(session=session, rep=rep, kind=SessionKind.API, now=now)
    await session.commit()
    return TokenPublic(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(rep: CurrentRep, token: TokenDep, session: SessionDep) -> Response:
    """Revoke the token this request carries."""
    await revoke_token(session=session, token=token, now=utcnow())
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
