"""A conversation through the rep API: claim, release, escalate, reassign, resolve, and the moves
that are refused; every change leaves an audit event."""

from __future__ import annotations

from typing import Any

from bot.store.models import AuditEvent, ConversationState, Role, WrapUp
from handoff.accounts import deactivate_rep
from tests.handoff.conftest import Desk

WRAP_UP: dict[str, Any] = {
    "nature_of_inquiry": "order_status",
    "actions_taken": "Checked the courier; parcel arrives Friday.",
    "follow_up_required": False,
}


async def _trail(desk: Desk, conversation_id: int) -> list[tuple[str | None, str | None, str]]:
    events = await desk.all(AuditEvent, conversation_id=conversation_id)
    return [(e.from_state, e.to_state, e.actor) for e in events]


async def test_claim_escalate_take_over_and_resolve(desk_on_each_store: Desk) -> None:
    desk = desk_on_each_store
    ann = await desk.rep("ann")
    sue = await desk.rep("sue", Role.SUPERVISOR)
    cid = await desk.queued("c1", priority="high", reason="complaint")
    rep, supervisor = await desk.auth("ann"), await desk.auth("sue")
    base = f"/api/conversations/{cid}"

    queue = (await desk.http.get("/api/queue", headers=rep)).json()
    assert [(q["id"], q["priority"], q["reason"], q["channel"]) for q in queue] == [
        (cid, "high", "complaint", "webchat")
    ]
    claimed = (await desk.http.post(f"{base}/claim", headers=rep)).json()
    assert claimed["summary"]["state"] == "assigned"
    assert (await desk.http.get("/api/queue", headers=rep)).json() == []
    mine = (await desk.http.get("/api/me/conversations", headers=rep)).json()
    assert [m["id"] for m in mine] == [cid]

    assert (await desk.http.post(f"{base}/claim", headers=supervisor)).status_code == 409
    escalated = await desk.http.post(
        f"{base}/escalate", json={"reason": "Refund above my limit"}, headers=rep
    )
    assert escalated.status_code == 200
    summary = escalated.json()["summary"]
    assert (summary["state"], summary["tier"], summary["assigned_rep"]) == ("escalated", 2, None)
    tier2 = (await desk.http.get("/api/queue", params={"tier": 2}, headers=supervisor)).json()
    assert [q["id"] for q in tier2] == [cid]

    taken = await desk.http.post("/api/queue/next", params={"tier": 2}, headers=supervisor)
    assert taken.json()["summary"]["assigned_rep"]["username"] == "sue"
    empty = await desk.http.post("/api/queue/next", params={"tier": 2}, headers=supervisor)
    assert empty.status_code == 204

    resolved = await desk.http.post(f"{base}/resolve", json=WRAP_UP, headers=supervisor)
    assert resolved.status_code == 200, resolved.text
    detail = resolved.json()
    assert detail["summary"]["state"] == "resolved" and detail["summary"]["assigned_rep"] is None
    assert detail["wrap_ups"][0]["actions_taken"] == WRAP_UP["actions_taken"]
    assert [(e["from_state"], e["to_state"]) for e in detail["events"]] == [
        ("bot", "queued"),
        ("queued", "assigned"),
        ("assigned", "escalated"),
        ("escalated", "assigned"),
        ("assigned", "resolved"),
    ]
    assert detail["events"][2]["reason"] == "escalated: Refund above my limit"
    assert await _trail(desk, cid) == [
        ("bot", "queued", "bot"),
        ("queued", "assigned", f"rep:{ann.id}"),
        ("assigned", "escalated", f"rep:{ann.id}"),
        ("escalated", "assigned", f"rep:{sue.id}"),
        ("assigned", "resolved", f"rep:{sue.id}"),
    ]


async def test_release_puts_it_back_in_its_queue(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c1")
    rep = await desk.auth("ann")
    await desk.http.post(f"/api/conversations/{cid}/claim", headers=rep)
    released = await desk.http.post(f"/api/conversations/{cid}/release", headers=rep)
    assert released.json()["summary"]["state"] == "queued"
    assert [q["id"] for q in (await desk.http.get("/api/queue", headers=rep)).json()] == [cid]
    again = await desk.http.post(f"/api/conversations/{cid}/release", headers=rep)
    assert again.status_code == 409


async def test_a_supervisor_reassigns_with_an_audit_event(desk: Desk) -> None:
    await desk.rep("ann")
    bob = await desk.rep("bob")
    await desk.rep("sue", Role.SUPERVISOR)
    cid = await desk.queued("c1")
    rep, supervisor = await desk.auth("ann"), await desk.auth("sue")
    await desk.http.post(f"/api/conversations/{cid}/claim", headers=rep)
    moved = await desk.http.post(
        f"/api/conversations/{cid}/reassign", json={"username": "bob"}, headers=supervisor
    )
    assert moved.status_code == 200
    assert moved.json()["summary"]["assigned_rep"]["id"] == bob.id
    last = moved.json()["events"][-1]
    assert (last["from_state"], last["to_state"], last["reason"], last["actor_name"]) == (
        "assigned",
        "assigned",
        "reassigned to bob",
        "Sue",
    )
    to_nobody = await desk.http.post(
        f"/api/conversations/{cid}/reassign", json={"username": "nobody"}, headers=supervisor
    )
    assert to_nobody.status_code == 404
    # Ann no longer owns it.
    reply = await desk.http.post(
        f"/api/conversations/{cid}/replies", json={"text": "hi"}, headers=rep
    )
    assert reply.status_code == 403


async def test_illegal_moves_are_refused_and_change_nothing(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c1")
    rep = await desk.auth("ann")
    base = f"/api/conversations/{cid}"
    # Nothing but claiming is possible while it waits.
    assert (await desk.http.post(f"{base}/resolve", json=WRAP_UP, headers=rep)).status_code == 409
    assert (await desk.http.post(f"{base}/release", headers=rep)).status_code == 409
    assert (
        await desk.http.post(f"{base}/escalate", json={"reason": "because"}, headers=rep)
    ).status_code == 409
    assert (
        await desk.http.post(f"{base}/replies", json={"text": "hi"}, headers=rep)
    ).status_code == 409
    await desk.http.post(f"{base}/claim", headers=rep)
    assert (await desk.http.post(f"{base}/claim", headers=rep)).status_code == 409
    await desk.http.post(f"{base}/resolve", json=WRAP_UP, headers=rep)
    # Resolved: the bot owns it again.
    for action, body in (("claim", None), ("release", None), ("resolve", WRAP_UP)):
        response = await desk.http.post(f"{base}/{action}", json=body, headers=rep)
        assert response.status_code == 409, action
    assert [to for _, to, _ in await _trail(desk, cid)] == ["queued", "assigned", "resolved"]


async def test_the_wrap_up_is_required_and_a_follow_up_needs_due_date_and_owner(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c1")
    rep = await desk.auth("ann")
    base = f"/api/conversations/{cid}"
    await desk.http.post(f"{base}/claim", headers=rep)
    for bad in (
        {**WRAP_UP, "actions_taken": ""},
        {"nature_of_inquiry": "x", "follow_up_required": False},
        {**WRAP_UP, "follow_up_required": True},
        {**WRAP_UP, "follow_up_required": True, "follow_up_due": "2026-12-01"},
    ):
        response = await desk.http.post(f"{base}/resolve", json=bad, headers=rep)
        assert response.status_code == 422, bad
    unknown_owner = {
        **WRAP_UP,
        "follow_up_required": True,
        "follow_up_due": "2026-12-01",
        "follow_up_owner": "nobody",
    }
    assert (
        await desk.http.post(f"{base}/resolve", json=unknown_owner, headers=rep)
    ).status_code == 422
    good = {**unknown_owner, "follow_up_owner": "ann"}
    resolved = await desk.http.post(f"{base}/resolve", json=good, headers=rep)
    assert resolved.status_code == 200, resolved.text
    [wrap_up] = await desk.all(WrapUp)
    assert wrap_up.follow_up_required and str(wrap_up.follow_up_due) == "2026-12-01"
    assert wrap_up.follow_up_owner_id == wrap_up.rep_id


async def test_deactivating_a_rep_returns_their_conversations(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c1")
    rep = await desk.auth("ann")
    await desk.http.post(f"/api/conversations/{cid}/claim", headers=rep)
    async with desk.services.session_factory() as session:
        _, returned = await deactivate_rep(session=session, username="ann")
    assert returned == 1
    conversation = (await desk.all(AuditEvent, conversation_id=cid))[-1]
    assert (conversation.to_state, conversation.actor) == (ConversationState.QUEUED, "system")
