"""The console over HTTP: sign-in, cookies, CSRF on every form, roles, and escaping."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.store.models import CannedResponse, Conversation, Note, Role
from handoff.console.session import SESSION_COOKIE
from tests.handoff.conftest import Desk, app_routes, running_desk
from tests.handoff.factories import PASSWORD

SCRIPT = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def sign_in(desk: Desk, username: str, password: str = PASSWORD) -> httpx.Response:
    form = await desk.http.get("/console/login")
    return await desk.http.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": _csrf(form.text)},
    )


async def test_signing_in_sets_a_safe_session_cookie(desk: Desk) -> None:
    await desk.rep("ann")
    response = await sign_in(desk, "ann")
    assert response.status_code == 303 and response.headers["location"] == "/console/queue"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path"} <= attributes and "secure" not in attributes
    assert "samesite=lax" in cookie.lower() and "path=/console" in cookie.lower()
    queue = await desk.http.get("/console/queue")
    assert queue.status_code == 200 and "Waiting for a rep" in queue.text
    assert "default-src 'self'" in queue.headers["content-security-policy"]


async def test_the_cookie_is_secure_behind_https(sqlite_url: str) -> None:
    async with running_desk(sqlite_url, PUBLIC_BASE_URL="https://support.example") as desk:
        await desk.rep("ann")
        response = await sign_in(desk, "ann")
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "secure" in cookie.lower()


async def test_the_store_keeps_only_a_hash_of_the_session_token(desk: Desk) -> None:
    from bot.store.models import RepSession

    await desk.rep("ann")
    await sign_in(desk, "ann")
    token = desk.http.cookies[SESSION_COOKIE]
    [stored] = await desk.all(RepSession)
    assert token not in stored.token_hash and len(stored.token_hash) == 64


async def test_a_wrong_password_and_a_missing_login_token_are_refused(desk: Desk) -> None:
    await desk.rep("ann")
    wrong = await sign_in(desk, "ann", "not the password")
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    no_token = await desk.http.post(
        "/console/login", data={"username": "ann", "password": PASSWORD}
    )
    assert no_token.status_code == 403
    assert SESSION_COOKIE not in desk.http.cookies


async def test_pages_send_strangers_to_sign_in(desk: Desk) -> None:
    queue = await desk.http.get("/console/queue")
    assert queue.status_code == 303 and queue.headers["location"] == "/console/login"
    assert (await desk.http.get("/console/events")).status_code == 401
    assert (await desk.http.get("/console/queue/fragment")).status_code == 401


async def test_signing_out_ends_the_session(desk: Desk) -> None:
    await desk.rep("ann")
    await sign_in(desk, "ann")
    token = desk.http.cookies[SESSION_COOKIE]
    page = await desk.http.get("/console/queue")
    out = await desk.http.post("/console/logout", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303
    desk.http.cookies.set(SESSION_COOKIE, token, path="/console")  # a stolen copy is dead too
    assert (await desk.http.get("/console/queue")).status_code == 303


async def test_every_console_form_is_refused_without_its_csrf_token(desk: Desk) -> None:
    await desk.rep("sue", Role.SUPERVISOR)
    cid = await desk.queued("c1")
    async with desk.services.session_factory() as session:
        session.add(CannedResponse(title="Hi", text="Hello"))
        await session.commit()
    await sign_in(desk, "sue")
    posts = sorted(
        path
        for method, path in await app_routes(str(desk.services.settings.DATABASE_URL))
        if method == "POST" and path.startswith("/console/") and path != "/console/login"
    )
    assert len(posts) >= 10
    for template in posts:
        path = template.format(conversation_id=cid, canned_id=1, username="sue", wrap_up_id=1)
        for data in ({}, {"csrf_token": "forged"}):
            response = await desk.http.post(path, data={**data, "text": "x", "title": "y"})
            assert response.status_code == 403, (path, data, response.status_code)
    # Nothing happened: still queued, canned response untouched, no notes, still signed in.
    assert (await desk.get(Conversation, cid)).state == "queued"
    assert [c.text for c in await desk.all(CannedResponse)] == ["Hello"]
    assert await desk.all(Note) == []
    assert (await desk.http.get("/console/queue")).status_code == 200


async def test_a_rep_cannot_open_the_canned_responses_admin(desk: Desk) -> None:
    await desk.rep("ann")
    await sign_in(desk, "ann")
    page = await desk.http.get("/console/canned")
    assert page.status_code == 403
    queue = await desk.http.get("/console/queue")
    response = await desk.http.post(
        "/console/canned", data={"csrf_token": _csrf(queue.text), "title": "t", "text": "x"}
    )
    assert response.status_code == 403
    assert await desk.all(CannedResponse) == []


async def test_a_supervisor_manages_canned_responses(desk: Desk) -> None:
    await desk.rep("sue", Role.SUPERVISOR)
    await sign_in(desk, "sue")
    csrf = _csrf((await desk.http.get("/console/canned")).text)
    await desk.http.post("/console/canned", data={"csrf_token": csrf, "title": "Hi", "text": "A"})
    [canned] = await desk.all(CannedResponse)
    await desk.http.post(
        f"/console/canned/{canned.id}", data={"csrf_token": csrf, "title": "Hi", "text": "B"}
    )
    assert [c.text for c in await desk.all(CannedResponse)] == ["B"]
    dup = await desk.http.post(
        "/console/canned", data={"csrf_token": csrf, "title": "Hi", "text": "C"}
    )
    assert dup.status_code == 303 and len(await desk.all(CannedResponse)) == 1
    await desk.http.post(f"/console/canned/{canned.id}/delete", data={"csrf_token": csrf})
    assert await desk.all(CannedResponse) == []


def _slots_with_script(where: str) -> dict[str, object]:
    if where == "slot":
        return {"order": SCRIPT}
    # A looked-up record and the contact a code went to, as the rep's card shows them.
    return {
        "verified_order": "55123",
        "verification_method": "one_time_code",
        "verification_id": "v1",
        "verification_contact": SCRIPT,
        "looked_up": {"kind": "order", "order_number": "55123", "carrier": SCRIPT},
    }


@pytest.mark.parametrize("where", ["message", "display name", "slot", "looked up"])
async def test_customer_html_is_escaped_in_the_console(desk: Desk, where: str) -> None:
    await desk.rep("ann")
    cid = await desk.queued(
        "c1",
        customer_text=SCRIPT if where == "message" else "hello",
        display_name=SCRIPT if where == "display name" else None,
        context={
            "intent": "x",
            "confidence": 0.5,
            "slots": _slots_with_script(where),
            "summary": None,
        }
        if where in ("slot", "looked up")
        else None,
    )
    await sign_in(desk, "ann")
    for path in ("/console/queue", f"/console/conversations/{cid}"):
        html = (await desk.http.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html
    page = (await desk.http.get(f"/console/conversations/{cid}")).text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    fragment = (await desk.http.get(f"/console/conversations/{cid}/fragment")).json()
    assert all("<script>alert" not in html for html in fragment["parts"].values())


@pytest.mark.parametrize(
    ("slots", "verified", "record"),
    [
        (
            {
                "verified_order": "55123",
                "verification_method": "one_time_code",
                "verification_contact": "k***@example.com",
                "verification_id": "AbCdEf123",
                "verification_expires_at": "2026-11-29T23:00:00Z",
                "verification_attempts": 1.0,
                "verification_code": "approved",
                "looked_up": {
                    "kind": "order",
                    "order_number": "55123",
                    "status": "out_for_delivery",
                    "expected_delivery": "2026-12-03",
                    "carrier": None,
                },
            },
            "order 55123, by a one-time code sent to k***@example.com",
            {"kind": "order", "order number": "55123", "status": "out for delivery"},
        ),
        (
            {
                "verified_order": "55001",
                "verification_method": "channel_phone",
                "looked_up": {
                    "kind": "refund",
                    "order_number": "55001",
                    "status": "approved",
                    "amount": "XCD 45.00",
                },
            },
            "order 55001, by the phone they write from (it is the order's)",
            {"kind": "refund", "amount": "XCD 45.00"},
        ),
        (
            {"verification_attempts": 5.0, "lookup_refusal": "too_many_attempts"},
            "no",
            {},
        ),
    ],
)
async def test_the_conversation_page_shows_what_the_bot_verified_and_looked_up(
    desk: Desk, slots: dict[str, object], verified: str, record: dict[str, str]
) -> None:
    await desk.rep("ann")
    cid = await desk.queued(
        "c1",
        context={"intent": "track_order", "confidence": 0.9, "slots": slots, "summary": None},
    )
    await sign_in(desk, "ann")
    page = (await desk.http.get(f"/console/conversations/{cid}")).text
    card = page[page.index('data-testid="looked-up"') :]
    card = card[: card.index("</section>")]
    shown = re.search(r'data-testid="verification">\s*(.*?)</dd>', card, re.S)
    assert shown is not None and shown.group(1).strip().replace("&#39;", "'") == verified
    for name, value in record.items():
        assert f"<dt>{name}</dt><dd>{value}</dd>" in card, name
    # Empty fields, the code's id and its check are not shown; nor are they raw slots.
    assert "AbCdEf123" not in page and "verification code" not in page
    assert "carrier" not in card and "verification id" not in page
    api = await desk.http.get(f"/api/conversations/{cid}", headers=await desk.auth("ann"))
    assert api.json()["packet"]["lookup"]["verified_by"] == slots.get("verification_method")


async def test_a_rep_works_a_conversation_through_the_console_forms(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c1")
    await sign_in(desk, "ann")
    csrf = _csrf((await desk.http.get("/console/queue")).text)
    taken = await desk.http.post("/console/queue/next", data={"csrf_token": csrf, "tier": "1"})
    assert taken.headers["location"] == f"/console/conversations/{cid}"
    note = await desk.http.post(
        f"/console/conversations/{cid}/note", data={"csrf_token": csrf, "text": "private"}
    )
    assert note.status_code == 303
    incomplete = await desk.http.post(
        f"/console/conversations/{cid}/resolve",
        data={"csrf_token": csrf, "nature_of_inquiry": "order_status", "actions_taken": "done",
              "follow_up": "yes"},
    )  # fmt: skip
    assert incomplete.status_code == 303
    page = await desk.http.get(f"/console/conversations/{cid}")
    assert "The wrap-up is incomplete" in page.text
    assert (await desk.get(Conversation, cid)).state == "assigned"
    done = await desk.http.post(
        f"/console/conversations/{cid}/resolve",
        data={"csrf_token": csrf, "nature_of_inquiry": "order_status", "actions_taken": "done",
              "follow_up": "yes", "follow_up_due": "2026-12-24", "follow_up_owner": "ann"},
    )  # fmt: skip
    assert done.status_code == 303
    assert (await desk.get(Conversation, cid)).state == "resolved"
