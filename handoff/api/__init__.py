"""The rep API under `/api/`, one router per resource, collected here."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.api import (
    auth,
    canned,
    contacts,
    conversations,
    files,
    interactions,
    me,
    queue,
    reads,
    reps,
)

router = APIRouter()
for resource in (
    auth,
    me,
    queue,
    conversations,
    canned,
    contacts,
    interactions,
    reads,
    reps,
    files,
):
    router.include_router(resource.router)
