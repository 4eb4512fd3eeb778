"""Liveness and readiness: `GET /healthz`, `GET /readyz`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.store.db import ping
from gateway.services import Services

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The store and the assistant can be reached (503 with what is down otherwise).

    With the store up, `turns` tells how many customer messages wait for their turn and how
    long the oldest has waited.
    """
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await ping(services.engine)
        checks["store"] = "ok"
    except Exception as error:
        checks["store"] = f"unreachable: {type(error).__name__}"
    checks["assistant"] = "ok" if await services.rasa.is_ready() else "unreachable"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if checks["store"] == "ok":
        # Backpressure, for whoever decides to add workers: not a reason to refuse traffic.
        try:
            backlog = await services.router.backlog()
        except Exception as error:  # the store went away since the ping: the next probe tells
            logger.warning("readyz.backlog_unread error=%s", type(error).__name__)
        else:
            body["turns"] = {
                "waiting": backlog.waiting,
                "oldest_waiting_seconds": round(backlog.oldest_seconds, 3),
            }
    return JSONResponse(body, status_code=200 if ready else 503)
