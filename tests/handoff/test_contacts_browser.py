"""In headless Chromium: a rep reopens a resolved web chat conversation from its follow-up,
writes to the customer and marks the follow-up done with a note; a rep finds a customer with
the search box and logs a phone call, which joins their history. Customer HTML stays text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect

from bot.messages import Channel
from bot.store.models import Contact, Conversation, LoggedInteraction, WrapUp
from tests.handoff.conftest import Desk
from tests.handoff.factories import PASSWORD, make_queued
from tests.handoff.test_follow_up_reopen import FOLLOW_UP
from tests.handoff.test_replies_and_feedback import HANDOFF_TURN
from tests.support.net import eventually
from tests.support.webchat_customer import WebChatCustomer

pytestmark = [pytest.mark.browser]

PAYLOAD = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@dataclass
class Scene:
    desk: Desk
    page: Page
    dialogs: list[str]


@pytest.fixture
async def scene(desk: Desk, browser: Browser) -> AsyncIterator[Scene]:
    await desk.rep("ann")
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    try:
        yield Scene(desk, page, dialogs)
    finally:
        await page.close()  # first: its event stream would hold the server's shutdown


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/console/login")
    await page.get_by_label("Username").fill("ann")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("signed-in-as")).to_have_text("Ann")


async def test_a_rep_reopens_from_a_follow_up_and_writes_to_the_web_chat_customer(
    scene: Scene,
) -> None:
    desk, page = scene.desk, scene.page
    desk.rasa.reply = HANDOFF_TURN
    customer = await WebChatCustomer().connect(desk.gateway.url)
    try:
        await customer.say(PAYLOAD)
        [conversation_id] = [c.id for c in await desk.all(Conversation)]
        api = await desk.auth("ann")
        base = f"/api/conversations/{conversation_id}"
        assert (await desk.http.post(f"{base}/claim", headers=api)).status_code == 200
        resolved = await desk.http.post(f"{base}/resolve", json=FOLLOW_UP, headers=api)
        assert resolved.status_code == 200, resolved.text
        await customer.receive()  # the rating question

        await _sign_in(page, desk.gateway.url)
        await page.goto(f"{desk.gateway.url}/console/follow-ups")
        row = page.get_by_test_id("follow-up-row")
        await expect(row).to_have_count(1)
        await row.get_by_test_id("follow-up-reopen").click()
        await expect(page.get_by_test_id("conversation-state")).to_have_text("assigned")
        await expect(page.get_by_test_id("notice")).to_contain_text("Reopened")
        # Web chat has no window: nothing to warn about before writing.
        await expect(page.get_by_test_id("reply-window")).to_have_count(0)
        said = page.locator('[data-testid="message"][data-sender="customer"]')
        await expect(said.first.get_by_test_id("message-text")).to_have_text(PAYLOAD)

        await page.get_by_test_id("reply-text").fill("Your refund landed today.")
        await page.get_by_test_id("send-reply").click()
        [reply] = await customer.receive(timeout=15)
        assert reply == {"text": "Your refund landed today.", "metadata": {"sender": "rep"}}

        card = page.get_by_test_id("follow-up-card")
        await card.get_by_test_id("follow-up-note").fill("Told them the refund landed.")
        await card.get_by_test_id("follow-up-done").click()
        await expect(page.get_by_test_id("notice")).to_have_text("Follow-up marked done.")
        await expect(page.get_by_test_id("follow-up-card")).to_have_count(0)
        [wrap] = await eventually(lambda: desk.all(WrapUp))
        assert wrap.follow_up_note == "Told them the refund landed."
        assert await page.locator('[data-testid="transcript"] img').count() == 0
        assert scene.dialogs == []
    finally:
        await customer.close()


async def test_a_rep_finds_a_customer_and_logs_a_phone_call(scene: Scene) -> None:
    desk, page = scene.desk, scene.page
    async with desk.services.session_factory() as session:
        conversation = await make_queued(
            session, address="+12465550142", channel=Channel.SMS, display_name=PAYLOAD
        )
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.phone = "+12465550142"
        await session.commit()
        contact_id = contact.id

    await _sign_in(page, desk.gateway.url)
    await page.get_by_test_id("contact-search").fill("246 555 0142")
    await page.get_by_test_id("contact-search").press("Enter")
    rows = page.get_by_test_id("contact-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(PAYLOAD)  # a name, shown as text
    await rows.first.get_by_role("link").click()
    await expect(page.get_by_test_id("contact-phone")).to_have_text("+12465550142")

    form = page.get_by_test_id("log-form")
    await form.get_by_test_id("log-phone").check()
    await form.get_by_test_id("log-inbound").check()
    await form.get_by_test_id("log-nature").fill("track_refund")
    await form.get_by_test_id("log-actions").fill("Read out the refund's tracking <number>.")
    await form.get_by_test_id("log-follow-up-yes").check()
    await form.get_by_test_id("log-follow-up-due").fill("2026-12-01")
    await form.get_by_test_id("log-save").click()

    await expect(page.get_by_test_id("notice")).to_have_text(
        "The phone call is on the customer's record."
    )
    call = page.locator('[data-testid="history-item"][data-kind="interaction"]')
    await expect(call).to_have_count(1)
    await expect(call.get_by_test_id("history-nature")).to_have_text("track refund")
    await expect(call.get_by_test_id("history-actions")).to_have_text(
        "Read out the refund's tracking <number>."
    )
    [logged] = await desk.all(LoggedInteraction)
    assert (logged.contact_id, logged.channel, logged.direction) == (
        contact_id,
        "phone",
        "inbound",
    )
    assert logged.follow_up_required and str(logged.follow_up_due) == "2026-12-01"

    # The SMS conversation's page lists the call among the customer's other contacts.
    await page.goto(f"{desk.gateway.url}/console/conversations/{conversation.id}")
    history = page.get_by_test_id("customer-history")
    await expect(history.get_by_test_id("history-item")).to_have_count(1)
    await expect(history).to_contain_text("call from the customer")
    assert scene.dialogs == []
