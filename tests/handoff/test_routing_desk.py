"""Routing to people through the gateway: presence and what reps serve by API and console,
the queue's team and language, and a handoff given to the right rep by the gateway itself."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import AuditEvent, Conversation, Presence, Rep, Role
from tests.handoff.conftest import Desk
from tests.handoff.test_console import _csrf, sign_in
from tests.support.net import eventually
from tests.support.webchat_customer import WebChatCustomer


async def _rep(desk: Desk, username: str) -> Rep:
    [rep] = await desk.all(Rep, username=username)
    return rep


async def test_a_rep_sets_presence_by_api_and_a_new_account_is_available_once_it_works(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    assert (await _rep(desk, "ann")).presence == Presence.AWAY
    headers = await desk.auth("ann")
    mine = await desk.http.get("/api/me/presence", headers=headers)
    assert mine.status_code == 200 and mine.json()["presence"] == "available"

    busy = await desk.http.put("/api/me/presence", json={"presence": "busy"}, headers=headers)
    assert busy.status_code == 200 and busy.json()["presence"] == "busy"
    assert (await _rep(desk, "ann")).presence == Presence.BUSY
    wrong = await desk.http.put("/api/me/presence", json={"presence": "asleep"}, headers=headers)
    assert wrong.status_code == 422
    trail = [e.reason for e in await desk.all(AuditEvent) if e.conversation_id is None]
    assert trail == ["presence: back at the console", "presence of ann"]


async def test_admins_set_what_a_rep_serves_and_bad_values_are_refused(desk: Desk) -> None:
    await desk.rep("ann")
    await desk.rep("sue", Role.SUPERVISOR)
    await desk.rep("ada", Role.ADMIN)
    admin = await desk.auth("ada")
    changed = await desk.http.put(
        "/api/reps/ann/routing",
        json={"teams": ["payments", "general"], "languages": ["FR", "en"], "max_chat": 1},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["teams"], body["languages"]) == (["general", "payments"], ["en", "fr"])
    assert (body["max_chat"], body["max_messaging"]) == (1, 8)

    bad_team = await desk.http.put(
        "/api/reps/ann/routing", json={"teams": ["sales"]}, headers=admin
    )
    assert bad_team.status_code == 422
    assert "There is no team 'sales'; the teams are general, payments" in bad_team.json()["detail"]
    bad_language = await desk.http.put(
        "/api/reps/ann/routing", json={"languages": ["french"]}, headers=admin
    )
    assert bad_language.status_code == 422 and "not a language code" in bad_language.text
    nobody = await desk.http.put("/api/reps/zed/routing", json={"teams": []}, headers=admin)
    assert nobody.status_code == 404

    listed = await desk.http.get("/api/reps", headers=await desk.auth("sue"))
    ann = next(r for r in listed.json() if r["username"] == "ann")
    assert ann["teams"] == ["general", "payments"] and ann["languages"] == ["en", "fr"]
    teams = await desk.http.get("/api/teams", headers=await desk.auth("ann"))
    assert {t["key"]: t["members"] for t in teams.json()} == {
        "general": 1,
        "payments": 1,
        "technical": 0,
        "accounts": 0,
    }


async def test_the_console_toggles_presence_and_admins_edit_reps(desk: Desk) -> None:
    await desk.rep("ada", Role.ADMIN)
    await desk.rep("ann")
    await sign_in(desk, "ada")
    queue = await desk.http.get("/console/queue")
    assert 'data-testid="presence-toggle"' in queue.text
    response = await desk.http.post(
        "/console/presence",
        data={"csrf_token": _csrf(queue.text), "presence": "busy"},
        headers={"referer": f"{desk.gateway.url}/console/queue"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/queue"
    assert (await _rep(desk, "ada")).presence == Presence.BUSY

    page = await desk.http.get("/console/reps")
    assert page.status_code == 200 and 'data-username="ann"' in page.text
    saved = await desk.http.post(
        "/console/reps/ann",
        data={
            "csrf_token": _csrf(page.text),
            "teams": ["accounts", "technical"],
            "languages": "ht, fr",
            "max_chat": "2",
            "max_messaging": "0",
        },
    )
    assert saved.status_code == 303
    listed = await desk.http.get("/api/reps", headers=await desk.auth("ada"))
    ann = next(r for r in listed.json() if r["username"] == "ann")
    assert (ann["teams"], ann["languages"], ann["max_chat"], ann["max_messaging"]) == (
        ["accounts", "technical"],
        ["fr", "ht"],
        2,
        8,
    )


async def test_a_rep_cannot_open_the_reps_page_or_change_it(desk: Desk) -> None:
    await desk.rep("ann")
    await sign_in(desk, "ann")
    assert (await desk.http.get("/console/reps")).status_code == 403
    queue = await desk.http.get("/console/queue")
    refused = await desk.http.post(
        "/console/reps/ann", data={"csrf_token": _csrf(queue.text), "languages": "fr"}
    )
    assert refused.status_code == 403


async def test_a_payments_question_in_french_goes_to_an_available_french_payments_rep(
    desk: Desk,
) -> None:
    await desk.rep("gen", teams=["general"], languages=["fr"], presence=Presence.AVAILABLE)
    await desk.rep("english", teams=["payments"], languages=["en"], presence=Presence.AVAILABLE)
    await desk.rep("away", teams=["payments"], languages=["fr"], presence=Presence.AWAY)
    french = await desk.rep(
        "french", teams=["payments"], languages=["en", "fr"], presence=Presence.AVAILABLE
    )
    desk.rasa.reply = {
        "messages": [{"custom": {"handoff": {"reason": "customer_request", "priority": "normal"}}}],
        "intent": {"name": "payment_issue", "confidence": 0.95},
    }
    customer = await WebChatCustomer().connect(desk.gateway.url)
    try:
        await customer.say(
            "mon paiement par carte a été refusé deux fois, je veux parler à quelqu'un"
        )
    finally:
        await customer.close()

    async def owner() -> int | None:
        async with desk.services.session_factory() as session:
            conversation = await session.scalar(select(Conversation))
            return conversation.assigned_rep_id if conversation else None

    assert await eventually(owner) == french.id
    [conversation] = await desk.all(Conversation)
    assert (conversation.team, conversation.language, conversation.state) == (
        "payments",
        "fr",
        "assigned",
    )
    queue = await desk.http.get("/api/me/conversations", headers=await desk.auth("french"))
    [item] = queue.json()
    assert (item["id"], item["team"], item["language"]) == (conversation.id, "payments", "fr")


async def test_the_queue_shows_team_and_language_and_flags_one_nobody_speaks(desk: Desk) -> None:
    await desk.rep("sue", Role.SUPERVISOR, teams=["general"], languages=["en", "fr"])
    await desk.queued("c1", team="payments", language="fr")
    flagged = await desk.queued("c2", team="general", language="pap")
    await sign_in(desk, "sue")
    page = await desk.http.get("/console/queue")
    rows = page.text.split('data-testid="queue-row"')[1:]
    assert len(rows) == 2
    first, second = sorted(rows, key=lambda row: f'data-conversation-id="{flagged}"' in row)
    assert ">payments<" in first and 'data-language="fr"' in first
    assert 'data-testid="language-unserved"' not in first
    assert 'data-language="pap"' in second and 'data-testid="language-unserved"' in second
    listed = await desk.http.get("/api/queue", headers=await desk.auth("sue"))
    flags = {item["id"]: item["language_unserved"] for item in listed.json()}
    assert flags[flagged] is True and list(flags.values()).count(True) == 1
