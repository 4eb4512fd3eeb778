"""Wires the human queue into the gateway's app: rep API, console, static files, errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from handoff import api, console
from handoff.api import files
from handoff.console.render import page, redirect
from handoff.console.session import LoginRequired
from handoff.errors import HandoffError, NotAuthenticated, TooManyAttempts

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Add the rep API (`/api/…`) and the console (`/console/…`) to the gateway."""
    app.include_router(api.router)
    app.include_router(console.router)
    app.include_router(files.console_router)  # customers' files, opened from the console
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(HandoffError, _handoff_error)  # type: ignore[arg-type]


async def _handoff_error(request: Request, error: HandoffError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after)
    if request.url.path.startswith("/console"):
        if isinstance(error, LoginRequired):
            if request.url.path == "/console/events" or request.url.path.endswith("/fragment"):
                return PlainTextResponse(error.message, status_code=401)
            return redirect("/console/login")
        return page(
            request,
            "error.html",
            user=None,
            status_code=error.status_code,
            message=error.message,
        )
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": error.message}, status_code=error.status_code, headers=headers)
