"""Rendering console pages: Jinja2 with autoescape on, security headers, one-shot notices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bot.languages import is_supported, language_name
from handoff.console.session import COOKIE_PATH, FLASH_COOKIE, ConsoleUser

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# No inline script or style anywhere in the console: customer text can never become code.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%d %b %H:%M UTC")


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _waited(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes = max(0, seconds) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"


def _label(value: str | None) -> str:
    """`customer_request` → `customer request`."""
    return value.replace("_", " ") if value else "—"


def _language_tag(code: str | None) -> Markup:
    """A conversation's or message's language as a small tag ("ES"); empty while undecided.
    One the assistant does not answer in is marked, so a rep sees it at a glance."""
    if not code:
        return Markup("")
    css = "language" if is_supported(code) else "language language-other"
    return Markup(
        '<span class="{}" data-testid="language" data-language="{}" title="{}">{}</span>'
    ).format(css, code, language_name(code), code.upper())


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its name: customer text is always escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    when=_when, iso=_iso, waited=_waited, label=_label, language_tag=_language_tag
)


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)


def page(
    request: Request,
    name: str,
    *,
    user: ConsoleUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A full console page, with the one-shot notice left by the previous action, if any."""
    notice = request.cookies.get(FLASH_COOKIE)
    response = HTMLResponse(
        render(
            name,
            user=user,
            notice=unquote(notice)[:500] if notice else None,
            path=request.url.path,
            **context,
        ),
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
    if notice:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


def redirect(url: str, *, notice: str | None = None) -> RedirectResponse:
    """Back to a page after a form (303, so a reload does not repeat the action)."""
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    if notice:
        response.set_cookie(
            FLASH_COOKIE, quote(notice[:500]), max_age=60, path=COOKIE_PATH, httponly=True,
            samesite="lax",
        )  # fmt: skip
    return response
