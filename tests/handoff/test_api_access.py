"""Every `/api/` route: anonymous callers get 401, the wrong role 403, others' conversations 403.

The routes are read from the app itself, so a new route that is not listed here fails the test
until someone decides who may call it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.store.models import (
    CannedResponse,
    Conversation,
    ConversationState,
    Handoff,
    Role,
    WrapUp,
    utcnow,
)
from tests.handoff.conftest import Desk, app_routes


@dataclass(frozen=True)
class Call:
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Access:
    public: bool = False
    call: Call = Call()
    # How a plain rep calls it and is refused for their role (None: every rep may call it).
    rep_refused: Call | None = None
    # Admins only: reps and supervisors are refused.
    admin_only: bool = False


WRAP_UP = {"nature_of_inquiry": "order_status", "actions_taken": "x", "follow_up_required": False}
CONVERSATION = "/api/conversations/{conversation_id}"
ROUTES: dict[tuple[str, str], Access] = {
    ("POST", "/api/auth/login"): Access(public=True),
    ("POST", "/api/auth/logout"): Access(),
    ("GET", "/api/me"): Access(),
    ("GET", "/api/me/conversations"): Access(),
    ("GET", "/api/me/presence"): Access(),
    ("PUT", "/api/me/presence"): Access(call=Call(json={"presence": "busy"})),
    ("GET", "/api/reps"): Access(rep_refused=Call()),
    ("PUT", "/api/reps/{username}/routing"): Access(
        call=Call(json={"languages": ["en", "fr"]}), admin_only=True
    ),
    ("GET", "/api/teams"): Access(),
    ("GET", "/api/queue"): Access(rep_refused=Call(params={"tier": 2})),
    ("POST", "/api/queue/next"): Access(rep_refused=Call(params={"tier": 2})),
    ("GET", CONVERSATION): Access(),
    ("POST", CONVERSATION + "/claim"): Access(),
    ("POST", CONVERSATION + "/release"): Access(),
    ("POST", CONVERSATION + "/replies"): Access(call=Call(json={"text": "hi"})),
    ("POST", CONVERSATION + "/notes"): Access(call=Call(json={"text": "hi"})),
    ("POST", CONVERSATION + "/escalate"): Access(call=Call(json={"reason": "needs a refund"})),
    ("POST", CONVERSATION + "/reassign"): Access(
        call=Call(json={"username": "bob"}), rep_refused=Call(json={"username": "bob"})
    ),
    ("POST", CONVERSATION + "/resolve"): Access(call=Call(json=WRAP_UP)),
    # A file of the conversation's messages, for whoever may read it (tests/channels/
    # test_webchat_uploads.py: a rep who may not read the conversation is refused).
    ("GET", CONVERSATION + "/files/{folder}/{name}"): Access(),
    # A file as a reply: like POST .../replies, for the rep who owns the conversation.
    ("POST", CONVERSATION + "/files"): Access(),
    ("GET", CONVERSATION + "/files/{folder}/{name}/content"): Access(
        call=Call(params={"expires": 1, "signature": "0" * 64})
    ),
    ("GET", "/api/canned-responses"): Access(),
    ("POST", "/api/canned-responses"): Access(
        call=Call(json={"title": "t", "text": "x"}),
        rep_refused=Call(json={"title": "t", "text": "x"}),
    ),
    ("PATCH", "/api/canned-responses/{canned_id}"): Access(
        call=Call(json={"text": "y"}), rep_refused=Call(json={"text": "y"})
    ),
    ("DELETE", "/api/canned-responses/{canned_id}"): Access(rep_refused=Call()),
    ("GET", "/api/sla/at-risk"): Access(rep_refused=Call()),
    ("GET", "/api/follow-ups"): Access(),
    # Only the follow-up's owner (bob) or a supervisor marks it done.
    ("POST", "/api/follow-ups/{wrap_up_id}/done"): Access(rep_refused=Call()),
    # Carrying it out too: its owner (bob) or a supervisor.
    ("POST", "/api/follow-ups/{wrap_up_id}/reopen"): Access(rep_refused=Call()),
    # Every rep logs calls and emails and looks customers up.
    ("GET", "/api/contacts"): Access(call=Call(params={"q": "customer"})),
    ("GET", "/api/contacts/{contact_id}/history"): Access(),
    ("POST", "/api/interactions"): Access(
        call=Call(
            json={
                "channel": "phone",
                "direction": "inbound",
                "name": "Keisha",
                "nature_of_inquiry": "track_order",
                "actions_taken": "told them",
            }
        )
    ),
    ("GET", "/api/interactions/topics"): Access(),
    ("GET", "/api/reports"): Access(rep_refused=Call()),
    ("GET", "/api/export"): Access(rep_refused=Call()),
    ("GET", "/api/contacts/{contact_id}/data"): Access(admin_only=True),
    ("DELETE", "/api/contacts/{contact_id}"): Access(admin_only=True),
    ("GET", "/api/reads"): Access(admin_only=True),
}


async def test_every_api_route_is_listed_here(sqlite_url: str) -> None:
    found = {(m, path) for m, path in await app_routes(sqlite_url) if path.startswith("/api/")}
    assert found == set(ROUTES), "decide who may call new /api/ routes and list them in ROUTES"


@dataclass
class World:
    desk: Desk
    conversation_id: int
    canned_id: int
    wrap_up_id: int
    rep: dict[str, str]
    supervisor: dict[str, str]

    def path(self, template: str) -> str:
        return template.format(
            conversation_id=self.conversation_id,
            contact_id=self.conversation_id,  # one contact per conversation here
            canned_id=self.canned_id,
            wrap_up_id=self.wrap_up_id,
            folder="webchat",
            name="A" * 32 + ".jpg",
            username="ann",
        )


@pytest.fixture
async def world(desk: Desk) -> AsyncIterator[World]:
    await desk.rep("ann")
    bob = await desk.rep("bob")
    await desk.rep("sue", Role.SUPERVISOR)
    conversation_id = await desk.queued("customer-1")
    follow_up_conversation = await desk.queued("customer-2")
    async with desk.services.session_factory() as session:
        canned = CannedResponse(title="Hello", text="Hello, how can I help?")
        session.add(canned)
        handoff = Handoff(conversation_id=follow_up_conversation, requested_at=utcnow())
        session.add(handoff)
        await session.flush()
        wrap_up = WrapUp(
            handoff_id=handoff.id,
            conversation_id=follow_up_conversation,
            rep_id=bob.id,
            nature_of_inquiry="refund",
            actions_taken="asked the warehouse",
            follow_up_required=True,
            follow_up_owner_id=bob.id,
        )
        session.add(wrap_up)
        # Resolved, as a conversation with a follow-up is: it can be reopened to carry it out.
        follow_up = await session.get(Conversation, follow_up_conversation)
        assert follow_up is not None
        follow_up.state = ConversationState.RESOLVED
        await session.commit()
    yield World(
        desk,
        conversation_id,
        canned.id,
        wrap_up.id,
        await desk.auth("ann"),
        await desk.auth("sue"),
    )


@pytest.mark.parametrize(
    ("method", "template"), sorted(k for k, v in ROUTES.items() if not v.public)
)
async def test_anonymous_callers_are_refused(world: World, method: str, template: str) -> None:
    call = ROUTES[(method, template)].call
    for headers in ({}, {"Authorization": "Bearer not-a-real-token"}, {"Authorization": "Basic x"}):
        response = await world.desk.http.request(
            method, world.path(template), params=call.params, json=call.json, headers=headers
        )
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "template"), sorted(k for k, v in ROUTES.items() if v.rep_refused is not None)
)
async def test_a_rep_is_refused_what_needs_a_supervisor(
    world: World, method: str, template: str
) -> None:
    refused = ROUTES[(method, template)].rep_refused
    assert refused is not None
    response = await world.desk.http.request(
        method, world.path(template), params=refused.params, json=refused.json, headers=world.rep
    )
    assert response.status_code == 403, response.text
    allowed = await world.desk.http.request(
        method,
        world.path(template),
        params=refused.params,
        json=refused.json,
        headers=world.supervisor,
    )
    assert allowed.status_code < 400, allowed.text


@pytest.mark.parametrize(
    ("method", "template"), sorted(k for k, v in ROUTES.items() if v.admin_only)
)
async def test_reps_and_supervisors_are_refused_what_needs_an_admin(
    world: World, method: str, template: str
) -> None:
    for headers in (world.rep, world.supervisor):
        response = await world.desk.http.request(method, world.path(template), headers=headers)
        assert response.status_code == 403, response.text


async def test_a_revoked_token_no_longer_works(world: World) -> None:
    assert (await world.desk.http.get("/api/me", headers=world.rep)).status_code == 200
    assert (await world.desk.http.post("/api/auth/logout", headers=world.rep)).status_code == 204
    assert (await world.desk.http.get("/api/me", headers=world.rep)).status_code == 401


async def test_a_deactivated_reps_token_no_longer_works(world: World) -> None:
    from handoff.accounts import deactivate_rep

    async with world.desk.services.session_factory() as session:
        await deactivate_rep(session=session, username="ann")
    assert (await world.desk.http.get("/api/me", headers=world.rep)).status_code == 401


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("replies", {"text": "hello"}),
        ("notes", {"text": "a note"}),
        ("release", None),
        ("escalate", {"reason": "needs a supervisor"}),
        ("resolve", WRAP_UP),
    ],
)
async def test_a_rep_cannot_act_on_another_reps_conversation(
    world: World, action: str, body: dict[str, Any] | None
) -> None:
    http, path = world.desk.http, f"/api/conversations/{world.conversation_id}"
    assert (await http.post(f"{path}/claim", headers=world.rep)).status_code == 200
    bob = await world.desk.auth("bob")
    response = await http.post(f"{path}/{action}", json=body, headers=bob)
    assert response.status_code == 403, response.text
    detail = (await http.get(path, headers=world.rep)).json()
    assert detail["summary"]["state"] == "assigned"
    assert detail["summary"]["assigned_rep"]["username"] == "ann"
    assert [m["sender_kind"] for m in detail["transcript"]] == ["customer"]
    assert detail["notes"] == []


async def test_a_rep_cannot_claim_from_the_supervisors_tier(world: World) -> None:
    http, path = world.desk.http, f"/api/conversations/{world.conversation_id}"
    await http.post(f"{path}/claim", headers=world.rep)
    await http.post(f"{path}/escalate", json={"reason": "refund over limit"}, headers=world.rep)
    bob = await world.desk.auth("bob")
    assert (await http.post(f"{path}/claim", headers=bob)).status_code == 403
    assert (await http.post(f"{path}/claim", headers=world.supervisor)).status_code == 200


async def test_unknown_conversation_is_404_after_authentication(world: World) -> None:
    assert (await world.desk.http.get("/api/conversations/999999")).status_code == 401
    response = await world.desk.http.get("/api/conversations/999999", headers=world.rep)
    assert response.status_code == 404
