"""Who is signed in to the console (session cookie), and the CSRF check on every form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from bot.store.models import Rep, Role, SessionKind, utcnow
from handoff.deps import SessionDep
from handoff.errors import NotAllowed, NotAuthenticated
from handoff.tokens import csrf_matches, csrf_token, rep_for_token

SESSION_COOKIE = "cc_console"
LOGIN_CSRF_COOKIE = "cc_login_csrf"
FLASH_COOKIE = "cc_flash"
COOKIE_PATH = "/console"


class LoginRequired(NotAuthenticated):
    """No live console session: pages send the browser to the login form."""


class FormExpired(NotAllowed):
    """A console form without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    rep: Rep
    token: str  # the session cookie's value; never rendered
    csrf: str  # what every form of this session carries

    @property
    def is_supervisor(self) -> bool:
        return self.rep.role.covers(Role.SUPERVISOR)


async def get_console_user(request: Request, session: SessionDep) -> ConsoleUser:
    token = request.cookies.get(SESSION_COOKIE, "")
    rep = await rep_for_token(session=session, token=token, kind=SessionKind.CONSOLE, now=utcnow())
    if rep is None:
        raise LoginRequired("Sign in to the console.")
    return ConsoleUser(rep=rep, token=token, csrf=csrf_token(token))


ConsoleUserDep = Annotated[ConsoleUser, Depends(get_console_user)]


async def get_form_user(request: Request, user: ConsoleUserDep) -> ConsoleUser:
    """The signed-in user, for a form carrying this session's CSRF token (403 otherwise)."""
    form = await request.form()  # parsed once; the route's Form() fields read the same
    given = form.get("csrf_token")
    if not csrf_matches(user.token, given if isinstance(given, str) else None):
        raise FormExpired(
            "This form has expired or did not come from the console. Reload the page."
        )
    return user


FormUserDep = Annotated[ConsoleUser, Depends(get_form_user)]
