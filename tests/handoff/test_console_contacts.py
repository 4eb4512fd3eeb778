"""The console over HTTP: finding a customer, their history on the conversation page, logging a
call, the WhatsApp window said before writing, overdue follow-ups; customer text escaped."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Channel
from bot.store.models import (
    Contact,
    Conversation,
    ConversationState,
    Handoff,
    LoggedInteraction,
    Role,
    WrapUp,
    utcnow,
)
from tests.handoff.conftest import Desk, running_desk
from tests.handoff.factories import make_queued
from tests.handoff.test_console import SCRIPT, _csrf, sign_in

PHONE = "+12465550142"


async def _two_channels(desk: Desk) -> tuple[int, int, int]:
    """One customer on SMS (waiting) and on WhatsApp (resolved earlier, with a wrap-up owned by
    ann that needs a follow-up, overdue): (contact id, SMS id, WhatsApp id)."""
    ann = await desk.rep("ann")
    async with desk.services.session_factory() as session:
        sms = await make_queued(session, address=PHONE, channel=Channel.SMS, display_name=SCRIPT)
        contact = await session.get(Contact, sms.contact_id)
        assert contact is not None
        contact.phone = PHONE
        whatsapp = Conversation(
            contact_id=contact.id,
            channel=Channel.WHATSAPP,
            address=f"whatsapp:{PHONE}",
            state=ConversationState.RESOLVED,
            nature_of_inquiry="get_refund",
            last_message_at=utcnow() - timedelta(days=3),
            last_customer_message_at=utcnow() - timedelta(days=3),
        )
        session.add(whatsapp)
        await session.flush()
        session.add(
            WrapUp(
                handoff_id=await _handoff(session, whatsapp.id),
                conversation_id=whatsapp.id,
                rep_id=ann.id,
                nature_of_inquiry="get_refund",
                actions_taken=f"Refund asked; {SCRIPT}",
                follow_up_required=True,
                follow_up_due=date.today() - timedelta(days=1),
                follow_up_owner_id=ann.id,
            )
        )
        await session.commit()
        return contact.id, sms.id, whatsapp.id


async def _handoff(session: AsyncSession, conversation_id: int) -> int:
    record = Handoff(conversation_id=conversation_id, requested_at=utcnow() - timedelta(days=4))
    session.add(record)
    await session.flush()
    return record.id


async def test_the_conversation_page_shows_the_customers_other_channels_escaped(
    desk: Desk,
) -> None:
    contact_id, sms_id, whatsapp_id = await _two_channels(desk)
    await sign_in(desk, "ann")
    page = await desk.http.get(f"/console/conversations/{sms_id}")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="customer-history"' in html
    assert f'href="/console/conversations/{whatsapp_id}"' in html
    assert "get refund" in html and "Refund asked;" in html
    assert f'href="/console/contacts/{contact_id}"' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


async def test_overdue_follow_ups_reach_their_owner_and_supervisors_on_the_queue_page(
    desk: Desk,
) -> None:
    await _two_channels(desk)
    await desk.rep("bob")
    await desk.rep("sue", Role.SUPERVISOR)
    for who, sees in (("ann", True), ("bob", False), ("sue", True)):
        desk.http.cookies.clear()
        await sign_in(desk, who)
        queue = (await desk.http.get("/console/queue")).text
        assert ('data-testid="overdue-follow-up"' in queue) is sees, who
        assert "<script>alert" not in queue


async def test_reopening_from_the_follow_up_says_whatsapp_takes_only_the_template(
    sqlite_url: str,
) -> None:
    async with running_desk(sqlite_url, TWILIO_WHATSAPP_TEMPLATE_SID="HX" + "d" * 32) as desk:
        _, _, whatsapp_id = await _two_channels(desk)
        await sign_in(desk, "ann")
        follow_ups = await desk.http.get("/console/follow-ups")
        [wrap] = await desk.all(WrapUp)
        assert f'action="/console/follow-ups/{wrap.id}/reopen"' in follow_ups.text
        reopened = await desk.http.post(
            f"/console/follow-ups/{wrap.id}/reopen", data={"csrf_token": _csrf(follow_ups.text)}
        )
        assert reopened.status_code == 303
        assert reopened.headers["location"] == f"/console/conversations/{whatsapp_id}"
        page = (await desk.http.get(reopened.headers["location"])).text
        assert 'data-testid="reply-form"' in page
        assert 'data-testid="reply-window"' in page and "approved template" in page
        conversation = await desk.get(Conversation, whatsapp_id)
        assert conversation.state == ConversationState.ASSIGNED


async def test_without_a_template_the_console_says_the_reply_cannot_go(desk: Desk) -> None:
    _, _, whatsapp_id = await _two_channels(desk)
    async with desk.services.session_factory() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == whatsapp_id)
            .values(state=ConversationState.BOT)  # the customer wrote again, days ago
        )
    await sign_in(desk, "ann")
    page = (await desk.http.get(f"/console/conversations/{whatsapp_id}")).text
    [wrap] = await desk.all(WrapUp)
    assert f'action="/console/follow-ups/{wrap.id}/reopen"' in page
    await desk.http.post(f"/console/follow-ups/{wrap.id}/reopen", data={"csrf_token": _csrf(page)})
    page = (await desk.http.get(f"/console/conversations/{whatsapp_id}")).text
    assert "no WhatsApp template is configured" in page


async def test_a_rep_searches_and_logs_a_call_from_the_console(desk: Desk) -> None:
    contact_id, _, _ = await _two_channels(desk)
    await sign_in(desk, "ann")
    results = await desk.http.get("/console/contacts", params={"q": "246-555-0142"})
    assert results.status_code == 200
    assert f'href="/console/contacts/{contact_id}"' in results.text
    assert "<script>alert" not in results.text
    nothing = await desk.http.get("/console/contacts", params={"q": "nobody-here"})
    assert 'data-testid="no-contacts"' in nothing.text

    contact_page = await desk.http.get(f"/console/contacts/{contact_id}")
    logged = await desk.http.post(
        "/console/interactions",
        data={
            "csrf_token": _csrf(contact_page.text),
            "contact_id": str(contact_id),
            "channel": "phone",
            "direction": "outbound",
            "occurred_at": "2026-03-02T14:05",
            "nature_of_inquiry": "track_refund",
            "actions_taken": "Called back: the refund <b>landed</b>.",
            "follow_up": "no",
        },
    )
    assert logged.status_code == 303
    assert logged.headers["location"] == f"/console/contacts/{contact_id}"
    [call] = await desk.all(LoggedInteraction)
    assert (call.contact_id, call.channel, call.direction) == (contact_id, "phone", "outbound")
    assert call.occurred_at.isoformat() == "2026-03-02T14:05:00+00:00"
    page = (await desk.http.get(f"/console/contacts/{contact_id}")).text
    assert "The phone call is on the customer&#39;s record." in page
    assert "the refund &lt;b&gt;landed&lt;/b&gt;." in page

    # A wrong record goes back with the reason, and nothing is stored.
    wrong = await desk.http.post(
        "/console/interactions",
        data={
            "csrf_token": _csrf(page),
            "channel": "phone",
            "direction": "inbound",
            "phone": "555-0142",
            "nature_of_inquiry": "track_refund",
            "actions_taken": "x",
        },
    )
    assert wrong.status_code == 303 and wrong.headers["location"] == "/console/contacts"
    notice = (await desk.http.get("/console/contacts")).text
    assert "country code" in notice
    assert len(await desk.all(LoggedInteraction)) == 1


async def test_console_forms_need_the_csrf_token(desk: Desk) -> None:
    await desk.rep("ann")
    await sign_in(desk, "ann")
    refused = await desk.http.post(
        "/console/interactions",
        data={"channel": "phone", "direction": "inbound", "name": "A", "nature_of_inquiry": "x"},
    )
    assert refused.status_code == 403
    assert (await desk.http.post("/console/follow-ups/1/reopen", data={})).status_code == 403
