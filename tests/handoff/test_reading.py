"""Reading a conversation by role (issue 11, finding 6), and the record of every read.

Reps read what waits in tier 1, what is assigned to them and what they handled; tier 2 and
everything else needs a supervisor (admins too). Every read by a person is recorded, and
admins see the record.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from bot.messages import Channel, InboundMessage
from bot.store.models import ConversationRead, Note, Role, utcnow
from handoff.reading import REFRESH_COVERED_BY_READ
from tests.handoff.conftest import Desk
from tests.handoff.test_console import sign_in

BASE = "/api/conversations"


async def _bot_only(desk: Desk, address: str) -> int:
    received = await desk.services.router.handle(
        InboundMessage(channel=Channel.SMS, address=address, text="where is my order")
    )
    assert received is not None
    return int(received.conversation_id)


async def test_reps_read_their_tier_and_their_own_work_supervisors_the_rest(desk: Desk) -> None:
    await desk.rep("ann")
    await desk.rep("bob")
    await desk.rep("sue", Role.SUPERVISOR)
    await desk.rep("ada", Role.ADMIN)
    ann, bob = await desk.auth("ann"), await desk.auth("bob")
    sue, ada = await desk.auth("sue"), await desk.auth("ada")
    waiting = await desk.queued("+12465550101", channel=Channel.SMS)
    escalated = await desk.queued("+12465550102", channel=Channel.SMS)
    bots = await _bot_only(desk, "+12465550103")
    others = await desk.queued("+12465550104", channel=Channel.SMS)

    # bob escalates one to tier 2 and keeps another.
    assert (await desk.http.post(f"{BASE}/{escalated}/claim", headers=bob)).status_code == 200
    escalate = await desk.http.post(
        f"{BASE}/{escalated}/escalate", json={"reason": "refund over limit"}, headers=bob
    )
    assert escalate.status_code == 200, escalate.text
    assert (await desk.http.post(f"{BASE}/{others}/claim", headers=bob)).status_code == 200

    async def status(conversation_id: int, headers: dict[str, str]) -> int:
        return (await desk.http.get(f"{BASE}/{conversation_id}", headers=headers)).status_code

    assert await status(waiting, ann) == 200  # waiting in tier 1: to decide to take it
    assert await status(escalated, ann) == 403  # tier 2, never handled
    assert await status(bots, ann) == 403  # the bot's alone
    assert await status(others, ann) == 403  # another rep's
    assert await status(escalated, bob) == 200  # handled it before escalating
    assert await status(others, bob) == 200  # assigned to bob
    for headers in (sue, ada):
        for conversation_id in (waiting, escalated, bots, others):
            assert await status(conversation_id, headers) == 200
    # Acting on it goes through the same door.
    note = await desk.http.post(f"{BASE}/{bots}/notes", json={"text": "hm"}, headers=ann)
    assert note.status_code == 403


async def test_the_console_applies_the_same_rule(desk: Desk) -> None:
    await desk.rep("ann")
    await desk.rep("sue", Role.SUPERVISOR)
    waiting = await desk.queued("+12465550111", channel=Channel.SMS)
    bots = await _bot_only(desk, "+12465550112")
    await sign_in(desk, "ann")
    page = f"/console/conversations/{bots}"
    assert (await desk.http.get(page)).status_code == 403
    assert (await desk.http.get(page + "/fragment")).status_code == 403
    # A note needs no ownership: the reading rule is its door here too.
    queue_page = await desk.http.get("/console/queue")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue_page.text)
    assert csrf is not None
    await desk.http.post(page + "/note", data={"text": "hm", "csrf_token": csrf.group(1)})
    assert await desk.all(Note) == []
    assert (await desk.http.get(f"/console/conversations/{waiting}")).status_code == 200
    desk.http.cookies.clear()
    await sign_in(desk, "sue")
    assert (await desk.http.get(page)).status_code == 200
    assert (await desk.http.get(page + "/fragment")).status_code == 200


async def test_every_read_is_recorded_and_admins_see_who_read_what(desk: Desk) -> None:
    ann_rep = await desk.rep("ann")
    sue_rep = await desk.rep("sue", Role.SUPERVISOR)
    await desk.rep("ada", Role.ADMIN)
    ann, sue, ada = await desk.auth("ann"), await desk.auth("sue"), await desk.auth("ada")
    waiting = await desk.queued("+12465550121", channel=Channel.SMS)
    bots = await _bot_only(desk, "+12465550122")
    assert (await desk.http.get(f"{BASE}/{waiting}", headers=ann)).status_code == 200
    assert (await desk.http.get(f"{BASE}/{bots}", headers=ann)).status_code == 403
    assert (await desk.http.get(f"{BASE}/{bots}", headers=sue)).status_code == 200
    await sign_in(desk, "sue")
    assert (await desk.http.get(f"/console/conversations/{waiting}")).status_code == 200

    recorded = await desk.all(ConversationRead)
    assert [(r.conversation_id, r.rep_id, r.via) for r in recorded] == [
        (waiting, ann_rep.id, "api"),
        (bots, sue_rep.id, "api"),
        (waiting, sue_rep.id, "console"),
    ]  # the refused read is not a read
    assert all(r.created_at is not None for r in recorded)

    listed = await desk.http.get("/api/reads", params={"conversation_id": waiting}, headers=ada)
    assert listed.status_code == 200, listed.text
    assert [(r["rep"]["username"], r["via"]) for r in listed.json()] == [
        ("sue", "console"),
        ("ann", "api"),
    ]
    by_ann = await desk.http.get("/api/reads", params={"rep_id": ann_rep.id}, headers=ada)
    assert [r["conversation_id"] for r in by_ann.json()] == [waiting]
    for headers in (ann, sue):
        assert (await desk.http.get("/api/reads", headers=headers)).status_code == 403


async def test_a_page_view_is_one_read_however_often_it_refreshes(desk: Desk) -> None:
    sue_rep = await desk.rep("sue", Role.SUPERVISOR)
    waiting = await desk.queued("+12465550131", channel=Channel.SMS)
    await sign_in(desk, "sue")
    page = f"/console/conversations/{waiting}"
    assert (await desk.http.get(page)).status_code == 200
    for _ in range(5):  # the live updates while the page stays open
        assert (await desk.http.get(page + "/fragment")).status_code == 200
    assert len(await desk.all(ConversationRead)) == 1
    assert (await desk.http.get(page)).status_code == 200  # opened again: a read again
    assert len(await desk.all(ConversationRead)) == 2

    # A page left open past what a read covers (or parts fetched without the page) leaves
    # a trace, once.
    async with desk.services.session_factory() as session:
        await session.execute(
            update(ConversationRead).values(
                created_at=utcnow() - REFRESH_COVERED_BY_READ - timedelta(minutes=1)
            )
        )
        await session.commit()
    for _ in range(3):
        assert (await desk.http.get(page + "/fragment")).status_code == 200
    recorded = await desk.all(ConversationRead)
    assert len(recorded) == 3
    assert all((r.rep_id, r.via) == (sue_rep.id, "console") for r in recorded)
