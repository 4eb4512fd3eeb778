"""Follow-ups that act: a rep reopens a resolved conversation from its follow-up and writes to
the customer on their channel (SMS and WhatsApp through the Twilio stand-in, inside and outside
WhatsApp's window, and web chat), then marks the follow-up done with a note."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from bot.lifecycle import LEGAL_TRANSITIONS
from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Handoff,
    Message,
    Role,
    WrapUp,
    utcnow,
)
from tests.handoff.conftest import Desk
from tests.handoff.factories import PASSWORD, make_rep
from tests.handoff.test_replies_and_feedback import HANDOFF_TURN
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn
from tests.support.twilio_standin import TwilioHarness, running_twilio_gateway, sms, whatsapp
from tests.support.webchat_customer import WebChatCustomer

CUSTOMER = "+12465550177"
WHATSAPP_CUSTOMER = f"whatsapp:{CUSTOMER}"
TEMPLATE_SID = "HX" + "c" * 32
FOLLOW_UP = {
    "nature_of_inquiry": "track_refund",
    "actions_taken": "Refund asked of the payments provider; call back when it lands.",
    "follow_up_required": True,
    "follow_up_due": "2026-03-05",
    "follow_up_owner": "ann",
}


@dataclass
class Rep:
    http: httpx.AsyncClient
    headers: dict[str, str]

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)


async def _sign_in(http: httpx.AsyncClient, username: str) -> Rep:
    login = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Rep(http, {"Authorization": f"Bearer {login.json()['access_token']}"})


async def _resolved_with_follow_up(rep: Rep, conversation_id: int) -> int:
    """Claim, resolve with a follow-up owned by ann; the follow-up's id (its wrap-up's)."""
    base = f"/api/conversations/{conversation_id}"
    assert (await rep.post(f"{base}/claim")).status_code == 200
    resolved = await rep.post(f"{base}/resolve", FOLLOW_UP)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["summary"]["state"] == "resolved"
    [wrap] = resolved.json()["wrap_ups"]
    return int(wrap["id"])


@pytest.fixture
async def twilio(database_url: str) -> AsyncIterator[TwilioHarness]:
    """On SQLite and PostgreSQL: reopening is a state change under the conversation's lock."""
    async with running_twilio_gateway(
        database_url,
        rasa=RasaStandIn(reply=HANDOFF_TURN),
        TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE_SID,
    ) as harness:
        yield harness


async def _handed_over(h: TwilioHarness, form: dict[str, str], address: str) -> int:
    await h.twilio.message(form)
    [promise] = await h.api.wait_for(address)
    assert "within 24 hours" in promise["Body"]
    conversation = await eventually(lambda: h.one(Conversation, address=address))
    assert conversation.state == ConversationState.QUEUED
    return conversation.id


async def test_an_sms_follow_up_reopens_the_conversation_and_reaches_the_customer(
    twilio: TwilioHarness,
) -> None:
    h = twilio
    async with h.gateway.services.session_factory() as session:
        await make_rep(session, "ann")
    conversation_id = await _handed_over(h, sms(CUSTOMER, "I need a person"), CUSTOMER)
    async with httpx.AsyncClient(base_url=h.gateway.url, timeout=30) as http:
        ann = await _sign_in(http, "ann")
        wrap_up_id = await _resolved_with_follow_up(ann, conversation_id)
        await h.api.wait_for(CUSTOMER, 2)  # the rating question

        # While resolved, a reply is refused: the follow-up reopens it first.
        refused = await ann.post(
            f"/api/conversations/{conversation_id}/replies", {"text": "Hello again"}
        )
        assert refused.status_code == 409
        reopened = await ann.post(f"/api/follow-ups/{wrap_up_id}/reopen")
        assert reopened.status_code == 200, reopened.text
        detail = reopened.json()
        assert detail["summary"]["state"] == "assigned"
        assert detail["summary"]["assigned_rep"]["username"] == "ann"
        assert detail["summary"]["reason"] == "follow_up"
        assert detail["reply_window"] == {
            "open": True,
            "closes_at": None,
            "template": False,
            "message": None,
        }

        sent = await ann.post(
            f"/api/conversations/{conversation_id}/replies",
            {"text": "Your refund of $35 landed today."},
        )
        assert sent.status_code == 201, sent.text
        reply = (await h.api.wait_for(CUSTOMER, 3))[2]
        assert reply["Body"] == "Ann (Caricom Connects): Your refund of $35 landed today."

        done = await ann.post(
            f"/api/follow-ups/{wrap_up_id}/done", {"note": "Called back: refund confirmed."}
        )
        assert done.status_code == 200, done.text
        assert done.json()["done_note"] == "Called back: refund confirmed."
        again = await ann.post(f"/api/follow-ups/{wrap_up_id}/reopen")
        assert again.status_code == 409  # done: nothing left to carry out

    events = await h.all(AuditEvent, conversation_id=conversation_id)
    [reopening] = [e for e in events if e.reason.startswith("reopened for follow-up")]
    assert (reopening.from_state, reopening.to_state) == ("resolved", "assigned")
    assert reopening.actor.startswith("rep:")
    records = await h.all(Handoff, conversation_id=conversation_id)
    # The reopening is a handoff of its own (its first response is recorded once the channel
    # accepted the reply, by the SLA monitor for SMS).
    assert [r.reason for r in records] == ["customer_request", "follow_up"]
    [wrap] = await h.all(WrapUp, id=wrap_up_id)
    assert wrap.follow_up_done_at is not None and wrap.follow_up_note is not None


async def test_whatsapp_inside_the_window_is_free_form_and_outside_it_the_template(
    twilio: TwilioHarness,
) -> None:
    h = twilio
    async with h.gateway.services.session_factory() as session:
        await make_rep(session, "ann")
    conversation_id = await _handed_over(
        h, whatsapp(CUSTOMER, "I need a person"), WHATSAPP_CUSTOMER
    )
    async with httpx.AsyncClient(base_url=h.gateway.url, timeout=30) as http:
        ann = await _sign_in(http, "ann")
        first = await _resolved_with_follow_up(ann, conversation_id)
        await h.api.wait_for(WHATSAPP_CUSTOMER, 2)

        # Inside the window: the reply goes as written (with the rep's name).
        inside = (await ann.post(f"/api/follow-ups/{first}/reopen")).json()
        assert inside["reply_window"]["open"] is True
        assert inside["reply_window"]["closes_at"] is not None
        await ann.post(f"/api/conversations/{conversation_id}/replies", {"text": "Any news?"})
        free_form = (await h.api.wait_for(WHATSAPP_CUSTOMER, 3))[2]
        assert free_form["Body"] == "Ann (Caricom Connects): Any news?"
        assert "ContentSid" not in free_form

        # Resolved again with a second follow-up, and the customer silent for 25 hours.
        second = await _resolved_with_follow_up_again(ann, conversation_id)
        await h.api.wait_for(WHATSAPP_CUSTOMER, 4)
        async with h.gateway.services.session_factory() as session, session.begin():
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(last_customer_message_at=utcnow() - timedelta(hours=25))
            )
        outside = (await ann.post(f"/api/follow-ups/{second}/reopen")).json()
        window = outside["reply_window"]
        assert window["open"] is False and window["template"] is True
        assert "template" in window["message"]  # said before the rep writes
        await ann.post(
            f"/api/conversations/{conversation_id}/replies",
            {"text": "Your refund landed.\nAnything else?"},
        )
        templated = (await h.api.wait_for(WHATSAPP_CUSTOMER, 5))[4]
    assert templated["ContentSid"] == TEMPLATE_SID and "Body" not in templated
    assert json.loads(templated["ContentVariables"]) == {
        "1": "Ann (Caricom Connects): Your refund landed. Anything else?"
    }


async def _resolved_with_follow_up_again(rep: Rep, conversation_id: int) -> int:
    resolved = await rep.post(f"/api/conversations/{conversation_id}/resolve", FOLLOW_UP)
    assert resolved.status_code == 200, resolved.text
    return int(resolved.json()["wrap_ups"][-1]["id"])


async def test_only_the_owner_or_a_supervisor_reopens_and_never_a_conversation_with_a_person(
    twilio: TwilioHarness,
) -> None:
    h = twilio
    async with h.gateway.services.session_factory() as session:
        await make_rep(session, "ann")
        await make_rep(session, "bob")
        await make_rep(session, "sue", Role.SUPERVISOR)
    conversation_id = await _handed_over(h, sms(CUSTOMER, "I need a person"), CUSTOMER)
    async with httpx.AsyncClient(base_url=h.gateway.url, timeout=30) as http:
        ann, bob, sue = [await _sign_in(http, name) for name in ("ann", "bob", "sue")]
        wrap_up_id = await _resolved_with_follow_up(ann, conversation_id)
        assert (await bob.post(f"/api/follow-ups/{wrap_up_id}/reopen")).status_code == 403
        assert (await ann.post("/api/follow-ups/999999/reopen")).status_code == 404
        reopened = await sue.post(f"/api/follow-ups/{wrap_up_id}/reopen")
        assert reopened.status_code == 200
        assert reopened.json()["summary"]["assigned_rep"]["username"] == "sue"
        # Assigned now: a second reopening is refused, not a second owner.
        assert (await ann.post(f"/api/follow-ups/{wrap_up_id}/reopen")).status_code == 409


async def test_a_web_chat_customer_gets_the_follow_up_live(desk: Desk) -> None:
    await desk.rep("ann")
    desk.rasa.reply = HANDOFF_TURN
    customer = await WebChatCustomer().connect(desk.gateway.url)
    try:
        await customer.say("I want to talk to a person")
        [conversation] = await desk.all(Conversation, address=customer.address)
        ann = await _sign_in(desk.http, "ann")
        wrap_up_id = await _resolved_with_follow_up(ann, conversation.id)
        await customer.receive()  # the rating question
        assert (await ann.post(f"/api/follow-ups/{wrap_up_id}/reopen")).status_code == 200
        await ann.post(
            f"/api/conversations/{conversation.id}/replies", {"text": "Your refund <landed>."}
        )
        [received] = await customer.receive()
        # The widget labels a person's messages itself: the text goes as written.
        assert received == {"text": "Your refund <landed>.", "metadata": {"sender": "rep"}}
        [logged] = [m for m in await desk.all(Message, conversation_id=conversation.id) if m.rep_id]
        assert logged.text == "Your refund <landed>."
    finally:
        await customer.close()


def test_reopening_is_a_legal_transition_from_resolved_and_bot_only() -> None:
    S = ConversationState
    into_assigned = {f for f, t in LEGAL_TRANSITIONS if t == S.ASSIGNED}
    assert {S.RESOLVED, S.BOT} <= into_assigned
    assert (S.RESOLVED, S.BOT) in LEGAL_TRANSITIONS  # the customer writing again still works
