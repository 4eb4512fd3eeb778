"""Wires the 24-hour promise into the app: SLA watch, follow-ups, reports and export."""

from __future__ import annotations

from fastapi import FastAPI

from handoff.api import follow_ups, reports, sla
from handoff.console import oversight


def install(app: FastAPI) -> None:
    """Add `/api/sla`, `/api/follow-ups`, `/api/reports`, `/api/export` and their console pages."""
    for resource in (sla, follow_ups, reports):
        app.include_router(resource.router)
    app.include_router(oversight.router)
