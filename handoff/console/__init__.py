"""The rep console under `/console`: server-rendered pages, plain forms, live updates by SSE."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.console import actions, canned, contacts, events, login, pages, reps

router = APIRouter()
for part in (login, pages, actions, canned, contacts, events, reps):
    router.include_router(part.router)
