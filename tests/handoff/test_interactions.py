"""Logged phone calls and emails: recorded by a rep through the API, masked and audited, found
with the customer, in their history, the reports (channels `phone`, `email`) and the export."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.messages import Channel
from bot.store.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationState,
    LoggedInteraction,
    Role,
    utcnow,
)
from handoff.customer_data import erase_contact, export_contact
from handoff.retention import purge_inactive
from tests.handoff.conftest import Desk
from tests.handoff.factories import make_queued

VISA = "4111 1111 1111 1111"

PHONE = "+12465550142"
CALL = {
    "channel": "phone",
    "direction": "inbound",
    "occurred_at": "2026-03-02T14:05:00Z",
    "phone": "+1 (246) 555-0142",
    "name": "Keisha Brathwaite",
    "nature_of_inquiry": "track_refund",
    "actions_taken": "Checked the refund: sent on 28 Feb, 5 working days.",
    "follow_up_required": True,
    "follow_up_due": "2026-03-06",
    "follow_up_owner": "ann",
}
EMAIL = {
    "channel": "email",
    "direction": "outbound",
    "occurred_at": "2026-03-03T09:30:00Z",
    "email": "Keisha@Example.com",
    "nature_of_inquiry": "Invoice copy for the February order",
    "actions_taken": "Sent the invoice copy by email.",
}


async def _log(desk: Desk, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await desk.http.post("/api/interactions", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def sms_customer(desk: Desk) -> int:
    """An SMS customer who once asked for a person, with their phone on record."""
    async with desk.services.session_factory() as session:
        conversation = await make_queued(
            session, address=PHONE, channel=Channel.SMS, display_name="Keisha B."
        )
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.phone = PHONE
        await session.commit()
        return conversation.contact_id


async def test_a_call_and_an_email_join_the_customers_history_reports_and_export(
    desk: Desk, sms_customer: int
) -> None:
    await desk.rep("ann")
    await desk.rep("sue", Role.SUPERVISOR)
    ann, sue = await desk.auth("ann"), await desk.auth("sue")

    call = await _log(desk, ann, CALL)
    # The phone, written as people write it, finds the SMS customer.
    assert call["contact_id"] == sms_customer
    assert call["phone"] == PHONE and call["rep"]["username"] == "ann"
    assert call["follow_up_owner"]["username"] == "ann"
    email = await _log(desk, ann, {**EMAIL, "contact_id": sms_customer})
    assert email["contact_id"] == sms_customer and email["email"] == "keisha@example.com"
    contact = await desk.get(Contact, sms_customer)
    assert (contact.phone, contact.email) == (PHONE, "keisha@example.com")

    history = (await desk.http.get(f"/api/contacts/{sms_customer}/history", headers=ann)).json()
    assert history["contact"]["logged_interactions"] == 2
    items = history["history"]
    # Newest first: the SMS conversation is from today, the call and the email from March.
    assert [(i["kind"], i["channel"]) for i in items] == [
        ("conversation", "sms"),
        ("interaction", "email"),
        ("interaction", "phone"),
    ]
    assert items[2]["nature_of_inquiry"] == "track_refund"
    assert items[2]["direction"] == "inbound" and items[2]["follow_up_due"] == "2026-03-06"
    assert items[2]["rep"]["username"] == "ann"

    reports = await desk.http.get(
        "/api/reports", params={"start": "2026-03-01", "end": "2026-03-03"}, headers=sue
    )
    assert reports.status_code == 200, reports.text
    assert reports.json()["logged"] == [
        {"channel": "phone", "inbound": 1, "outbound": 0, "per_day": {"2026-03-02": 1}},
        {"channel": "email", "inbound": 0, "outbound": 1, "per_day": {"2026-03-03": 1}},
    ]
    phone_only = await desk.http.get(
        "/api/reports",
        params={"start": "2026-03-01", "end": "2026-03-03", "channel": "phone"},
        headers=sue,
    )
    figures = phone_only.json()
    assert [x["channel"] for x in figures["logged"]] == ["phone"]
    assert figures["containment"]["conversations"] == 0  # no chat on the phone channel
    assert figures["conversations_per_day"] == []

    export = await desk.http.get(
        "/api/export",
        params={"format": "jsonl", "start": "2026-03-01", "end": "2026-03-03"},
        headers=sue,
    )
    rows = [json.loads(line) for line in export.text.splitlines()]
    logged = [r for r in rows if r["kind"] == "interaction"]
    assert [(r["channel"], r["direction"], r["interaction_id"]) for r in logged] == [
        ("phone", "inbound", call["id"]),
        ("email", "outbound", email["id"]),
    ]
    assert logged[0]["customer_phone"] == PHONE
    assert logged[0]["customer_address"] == PHONE
    assert logged[0]["nature_of_inquiry"] == "track_refund"
    assert logged[0]["rep"] == "ann" and logged[0]["follow_up_owner"] == "ann"
    assert logged[0]["last_message_at"] == "2026-03-02T14:05:00+00:00"
    assert logged[1]["customer_email"] == "keisha@example.com"
    assert logged[1]["conversation_id"] is None

    audit = await desk.all(AuditEvent)
    assert sum("phone inbound logged" in e.reason for e in audit) == 1
    assert sum("email outbound logged" in e.reason for e in audit) == 1


async def test_an_unknown_phone_or_email_is_a_new_customer_and_card_numbers_are_masked(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    ann = await desk.auth("ann")
    body = {
        **CALL,
        "phone": "+44 20 7946 0958",
        "follow_up_required": False,
        "actions_taken": f"Customer read out card {VISA} by mistake; told them never to.",
    }
    call = await _log(desk, ann, body)
    assert VISA not in call["actions_taken"] and "[card ending" in call["actions_taken"]
    [stored] = await desk.all(LoggedInteraction)
    assert VISA not in stored.actions_taken
    contact = await desk.get(Contact, call["contact_id"])
    assert (contact.phone, contact.display_name) == ("+442079460958", "Keisha Brathwaite")
    # The same phone again is the same customer.
    again = await _log(desk, ann, {**body, "phone": "+442079460958", "name": None})
    assert again["contact_id"] == call["contact_id"]


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"phone": "555-0142"}, 422, "country code"),
        ({"phone": None, "name": None}, 422, "Say who it was"),
        ({"email": "not an address", "phone": None}, 422, "not an email address"),
        ({"follow_up_owner": None}, 422, "follow-up"),
        ({"follow_up_owner": "nobody"}, 422, "no active rep"),
        ({"channel": "fax"}, 422, "channel"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, 422, "future"),
        ({"contact_id": 999999}, 404, "no contact"),
    ],
)
async def test_a_wrong_record_gets_a_clear_error(
    desk: Desk, change: dict[str, Any], status: int, says: str
) -> None:
    await desk.rep("ann")
    response = await desk.http.post(
        "/api/interactions", json={**CALL, **change}, headers=await desk.auth("ann")
    )
    assert response.status_code == status, response.text
    assert says in response.text
    assert await desk.all(LoggedInteraction) == []


async def test_logging_and_searching_need_a_signed_in_rep(desk: Desk) -> None:
    assert (await desk.http.post("/api/interactions", json=CALL)).status_code == 401
    assert (await desk.http.get("/api/contacts", params={"q": "Keisha"})).status_code == 401
    assert (await desk.http.get("/api/contacts/1/history")).status_code == 401


async def test_a_customer_is_found_by_phone_email_name_or_web_visitor_label(
    desk: Desk, sms_customer: int
) -> None:
    await desk.rep("ann")
    ann = await desk.auth("ann")
    await _log(desk, ann, {**EMAIL, "contact_id": sms_customer})
    async with desk.services.session_factory() as session:
        visitor = await make_queued(session, address="secret-session-id", display_name=None)
        await session.refresh(visitor)
        visitor.address_label = "Web visitor 7F3A"
        await session.commit()
        visitor_contact = visitor.contact_id

    async def found(q: str) -> list[int]:
        response = await desk.http.get("/api/contacts", params={"q": q}, headers=ann)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert await found("246 555 0142") == [sms_customer]
    assert await found("KEISHA@example") == [sms_customer]
    assert await found("keisha b") == [sms_customer]
    assert await found("visitor 7f3a") == [visitor_contact]
    assert await found("secret-session") == []  # a web chat address is a secret
    assert await found("%%") == []  # wildcards are taken literally
    [brief] = (await desk.http.get("/api/contacts", params={"q": "7F3A"}, headers=ann)).json()
    assert brief["conversations"][0]["address"] == "Web visitor 7F3A"
    too_short = await desk.http.get("/api/contacts", params={"q": "k"}, headers=ann)
    assert too_short.status_code == 422


async def test_erasing_a_customer_erases_their_logged_calls_and_emails(
    desk: Desk, sms_customer: int
) -> None:
    await desk.rep("ann")
    await _log(desk, await desk.auth("ann"), CALL)
    sessions = desk.services.session_factory
    async with sessions() as session:
        contact = await session.get(Contact, sms_customer)
        assert contact is not None
        data = await export_contact(session, contact, rasa=None)
    assert [i["channel"] for i in data["logged_interactions"]] == ["phone"]
    # Nobody handles the customer now: the queued conversation went back to the bot.
    async with sessions() as session, session.begin():
        await session.execute(update(Conversation).values(state=ConversationState.BOT))
    counts = await erase_contact(sessions, sms_customer, rasa=None, actor="rep:1", now=utcnow())
    assert counts["logged_interactions"] == 1 and counts["contacts"] == 1
    assert await desk.all(LoggedInteraction) == []
    assert await desk.get(Contact, sms_customer) is None


async def test_retention_purges_old_calls_and_keeps_a_customer_with_recent_ones(
    desk: Desk, sms_customer: int
) -> None:
    await desk.rep("ann")
    ann = await desk.auth("ann")
    await _log(desk, ann, CALL)  # March 2026
    recent = await _log(desk, ann, {**EMAIL, "contact_id": sms_customer, "occurred_at": None})
    sessions = desk.services.session_factory
    async with sessions() as session, session.begin():
        await session.execute(
            update(Conversation).values(
                state=ConversationState.BOT, last_message_at=utcnow() - timedelta(days=10)
            )
        )
    report = await purge_inactive(sessions, older_than_days=5, actor="test", now=utcnow())
    assert (report.counts["conversations"], report.counts["logged_interactions"]) == (1, 1)
    # The customer stays with their recent email (no broken reference), the old call went.
    assert report.counts["contacts"] == 0
    assert await desk.get(Contact, sms_customer) is not None
    assert [i.id for i in await desk.all(LoggedInteraction)] == [recent["id"]]

    later = await purge_inactive(
        sessions, older_than_days=5, actor="test", now=utcnow() + timedelta(days=6)
    )
    assert (later.counts["logged_interactions"], later.counts["contacts"]) == (1, 1)
    assert await desk.get(Contact, sms_customer) is None
