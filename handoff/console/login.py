"""Console sign-in and sign-out: a session cookie holding a random token."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.store.models import SessionKind, utcnow
from handoff.accounts import authenticate
from handoff.api.auth import client_address
from handoff.console.render import SECURITY_HEADERS, page, redirect
from handoff.console.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormUserDep,
    get_console_user,
)
from handoff.deps import DeskDep, SessionDep
from handoff.errors import NotAuthenticated, TooManyAttempts
from handoff.tokens import LIFETIME, issue_token, revoke_token

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

FormText = Annotated[str, Form(max_length=1024)]


def _login_page(
    request: Request, *, login_csrf: str, error: str | None = None, status_code: int = 200,
    username: str = "",
) -> HTMLResponse:  # fmt: skip
    response = page(
        request,
        "login.html",
        user=None,
        login_csrf=login_csrf,
        error=error,
        username=username,
        status_code=status_code,
    )
    # Sign-in has no session yet: its form is protected by a double-submit cookie.
    response.set_cookie(
        LOGIN_CSRF_COOKIE, login_csrf, path=f"{COOKIE_PATH}/login", httponly=True, samesite="strict"
    )
    return response


@router.get("")
async def console_home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@router.get("/login", response_model=None)
async def login_form(request: Request, session: SessionDep) -> Response:
    try:
        await get_console_user(request, session)
        return redirect("/console/queue")
    except NotAuthenticated:
        pass
    return _login_page(request, login_csrf=secrets.token_urlsafe(24))


@router.post("/login", response_model=None)
async def login(
    request: Request,
    session: SessionDep,
    desk: DeskDep,
    username: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            login_csrf=secrets.token_urlsafe(24),
            error="The sign-in form expired. Please try again.",
            status_code=403,
        )
    now = utcnow()
    try:
        rep = await authenticate(
            session=session,
            username=username,
            password=password,
            address=client_address(request),
            throttles=desk.login_throttles,
            now=now,
        )
    except TooManyAttempts as error:
        response = _login_page(
            request, login_csrf=expected, error=error.message, status_code=429, username=username
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except NotAuthenticated as error:
        return _login_page(
            request, login_csrf=expected, error=error.message, status_code=401, username=username
        )
    issued = await issue_token(session=session, rep=rep, kind=SessionKind.CONSOLE, now=now)
    await session.commit()
    logger.info("console.signed_in rep_id=%s", rep.id)
    signed_in = redirect("/console/queue")
    signed_in.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(LIFETIME[SessionKind.CONSOLE].total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=desk.secure_cookies,
    )
    signed_in.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{COOKIE_PATH}/login")
    return signed_in


@router.post("/logout")
async def logout(user: FormUserDep, session: SessionDep) -> RedirectResponse:
    await revoke_token(session=session, token=user.token, now=utcnow())
    await session.commit()
    logger.info("console.signed_out rep_id=%s", user.rep.id)
    response = RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
