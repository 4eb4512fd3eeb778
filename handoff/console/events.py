"""`GET /console/events`: server-sent events that keep the queue and open conversations live."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from bot.store.models import utcnow
from handoff.console.session import ConsoleUserDep
from handoff.deps import DeskDep, SessionDep
from handoff.desk import RepDesk
from handoff.presence import SEEN_EVERY, note_seen

router = APIRouter(prefix="/console", include_in_schema=False)

KEEPALIVE_SECONDS = 15.0
# A stream ends after this long and the browser reconnects (EventSource does so by itself):
# a signed-out or deactivated rep stops getting events, and a restarting gateway is not held.
STREAM_SECONDS = 60.0
RETRY_MILLISECONDS = 2000


async def _stream(request: Request, desk: RepDesk, rep_id: int) -> AsyncIterator[str]:
    started = time.monotonic()
    # The open console is how a rep's presence is known (handoff/presence.py).
    await note_seen(desk.session_factory, desk.live, rep_id=rep_id, now=utcnow())
    last_seen = time.monotonic()
    async with desk.live.subscribe() as subscription:
        yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
        while time.monotonic() - started < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            if time.monotonic() - last_seen >= SEEN_EVERY.total_seconds():
                await note_seen(desk.session_factory, desk.live, rep_id=rep_id, now=utcnow())
                last_seen = time.monotonic()
            event = await subscription.next(timeout=KEEPALIVE_SECONDS)
            if event is None:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {event.kind}\ndata: {event.as_json()}\n\n"


@router.get("/events")
async def events(
    request: Request, user: ConsoleUserDep, session: SessionDep, desk: DeskDep
) -> StreamingResponse:
    # The stream may stay open for a minute: do not hold a store connection for it.
    await session.close()
    return StreamingResponse(
        _stream(request, desk, user.rep.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
