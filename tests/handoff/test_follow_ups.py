"""Follow-ups: the list with owner and due date, overdue ones flagged, marking one done."""

from __future__ import annotations

import re

from bot.store.models import Rep, WrapUp
from tests.handoff.conftest import Desk
from tests.handoff.report_data import seed_known
from tests.handoff.test_console import sign_in


async def test_the_list_shows_owner_due_date_and_what_is_overdue(desk: Desk) -> None:
    known = await seed_known(desk.services.session_factory)
    ann = await desk.auth("ann")
    items = (await desk.http.get("/api/follow-ups", headers=ann)).json()
    # C2's (ann, due 4 March 2026, overdue now) comes before C3's (bob, due 2099).
    assert [
        (f["conversation_id"], f["owner"]["username"], f["due"], f["overdue"]) for f in items
    ] == [
        (known.conversations["C2"], "ann", "2026-03-04", True),
        (known.conversations["C3"], "bob", "2099-01-01", False),
    ]
    assert items[0]["actions_taken"] == "helped with customer_request"
    overdue = (await desk.http.get("/api/follow-ups?status=overdue", headers=ann)).json()
    assert [f["conversation_id"] for f in overdue] == [known.conversations["C2"]]
    bob = await desk.auth("bob")
    mine = (await desk.http.get("/api/follow-ups?mine=true", headers=bob)).json()
    assert [f["owner"]["username"] for f in mine] == ["bob"]
    bad = await desk.http.get("/api/follow-ups?status=later", headers=ann)
    assert bad.status_code == 422


async def test_the_owner_or_a_supervisor_marks_it_done_once(desk: Desk) -> None:
    await seed_known(desk.services.session_factory)
    [bobs] = await desk.all(WrapUp, follow_up_owner_id=(await _rep_id(desk, "bob")))
    path = f"/api/follow-ups/{bobs.id}/done"
    refused = await desk.http.post(path, headers=await desk.auth("ann"))
    assert refused.status_code == 403
    async with desk.services.desk.live.subscribe() as events:
        done = await desk.http.post(path, headers=await desk.auth("bob"))
        assert done.status_code == 200, done.text
        assert done.json()["done_at"] is not None
        # Other news goes by meanwhile (Bob's presence on his first request, the queue).
        event = await events.next(timeout=2)
        while event is not None and event.kind != "follow_up":
            event = await events.next(timeout=2)
    assert event is not None and (event.kind, event.data["change"]) == ("follow_up", "done")
    again = await desk.http.post(path, headers=await desk.auth("sue"))
    assert again.status_code == 409
    assert (
        await desk.http.post("/api/follow-ups/999999/done", headers=await desk.auth("sue"))
    ).status_code == 404
    still_open = (await desk.http.get("/api/follow-ups", headers=await desk.auth("ann"))).json()
    assert [f["owner"]["username"] for f in still_open] == ["ann"]


async def test_the_console_lists_them_and_closes_one(desk: Desk) -> None:
    await seed_known(desk.services.session_factory)
    await sign_in(desk, "ann")
    page = await desk.http.get("/console/follow-ups")
    assert page.status_code == 200
    assert page.text.count('data-testid="follow-up-row"') == 2
    assert page.text.count('data-testid="follow-up-overdue"') == 1
    # ann may close her own, not bob's.
    assert page.text.count('data-testid="follow-up-done"') == 1
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    wrap_up_id = re.search(r'name="wrap_up_id" value="(\d+)"', page.text)
    assert csrf and wrap_up_id
    closed = await desk.http.post(
        "/console/follow-ups/done",
        data={"csrf_token": csrf.group(1), "wrap_up_id": wrap_up_id.group(1)},
    )
    assert closed.status_code == 303
    page = await desk.http.get("/console/follow-ups")
    assert "Follow-up marked done." in page.text
    assert page.text.count('data-testid="follow-up-row"') == 1
    supervisors_only = await desk.http.get("/console/sla")
    assert supervisors_only.status_code == 403


async def _rep_id(desk: Desk, username: str) -> int:
    [rep] = await desk.all(Rep, username=username)
    return int(rep.id)
