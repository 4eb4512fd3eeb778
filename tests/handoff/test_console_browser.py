"""End to end in headless Chromium, with the real assistant: a web chat customer asks for a
person, a rep signs in to the console, claims, replies, resolves with the wrap-up, and the
customer rates the help. Customer HTML shows as text and never runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.store.models import CannedResponse, Rating, RatingStatus
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.webchat_customer import WebChatCustomer

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

PAYLOAD = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@dataclass
class Scene:
    gateway: LiveGateway
    page: Page
    customer: WebChatCustomer
    dialogs: list[str]


@pytest.fixture
async def scene(rasa_stack: RasaStack, sqlite_url: str, browser: Browser) -> AsyncIterator[Scene]:
    async with running_gateway(make_settings(sqlite_url, rasa_stack.rasa_url)) as gateway:
        async with gateway.services.session_factory() as session:
            await make_rep(session, "ann")
            session.add(CannedResponse(title="Greeting", text="Thanks for waiting. "))
            await session.commit()
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        customer = await WebChatCustomer().connect(gateway.url)
        try:
            yield Scene(gateway, page, customer, dialogs)
        finally:
            # Close the page first: its event stream would hold the server's shutdown.
            await page.close()
            await customer.close()


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/console/login")
    await page.get_by_label("Username").fill("ann")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("signed-in-as")).to_have_text("Ann")
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "on")


async def test_a_customer_is_helped_by_a_rep_and_rates_the_help(scene: Scene) -> None:
    page, customer, gateway = scene.page, scene.customer, scene.gateway
    await _sign_in(page, gateway.url)
    await expect(page.get_by_test_id("tier-1-count")).to_have_text("0")

    # The customer asks for a person; the queue shows it without a reload.
    replies = await customer.say("i want to speak to a person", timeout=60)
    assert any("representative" in r.get("text", "") for r in replies), replies
    row = page.get_by_test_id("queue-row")
    await expect(row).to_have_count(1, timeout=15_000)
    await expect(row).to_contain_text("customer request")
    await customer.client.emit(
        "user_uttered", {"message": PAYLOAD, "session_id": customer.session_id}
    )
    await customer.receive(timeout=30)  # the one acknowledgement while waiting

    await row.get_by_test_id("claim").click()
    await expect(page.get_by_test_id("conversation-state")).to_have_text("assigned")
    packet = page.get_by_test_id("handoff-packet")
    await expect(packet).to_contain_text("customer request")
    await expect(packet).to_contain_text("contact_human_agent")
    customer_said = page.locator('[data-testid="message"][data-sender="customer"]')
    await expect(customer_said.last.get_by_test_id("message-text")).to_have_text(PAYLOAD)
    assert await page.locator('[data-testid="transcript"] img').count() == 0

    # The rep starts from a canned response, replies; the customer's web chat shows it.
    await page.get_by_test_id("canned-select").select_option(label="Greeting")
    await expect(page.get_by_test_id("reply-text")).to_have_value("Thanks for waiting. ")
    await page.get_by_test_id("reply-text").fill("Hello, I'm Ann. I'll sort this out for you.")
    await page.get_by_test_id("send-reply").click()
    [reply] = await customer.receive(timeout=15)
    assert reply == {
        "text": "Hello, I'm Ann. I'll sort this out for you.",
        "metadata": {"sender": "rep"},
    }
    rep_said = page.locator('[data-testid="message"][data-sender="rep"]').last
    await expect(rep_said.get_by_test_id("delivery-status")).to_have_text("sent")

    # The customer answers; the open conversation shows it without a reload.
    await customer.client.emit(
        "user_uttered", {"message": "thank you so much", "session_id": customer.session_id}
    )
    await expect(customer_said.last.get_by_test_id("message-text")).to_have_text(
        "thank you so much", timeout=15_000
    )

    # Resolve with the wrap-up; the customer is asked for a rating and gives one.
    await expect(page.get_by_test_id("wrap-up-nature")).to_have_value("contact_human_agent")
    await page.get_by_test_id("wrap-up-actions").fill("Explained the delivery delay.")
    await page.get_by_test_id("resolve").click()
    await expect(page.get_by_test_id("conversation-state")).to_have_text("resolved")
    [question] = await customer.receive(timeout=15)
    assert [b["payload"] for b in question["quick_replies"]] == ["1", "2", "3", "4", "5"]
    [thanks] = await customer.say("5", timeout=15)
    assert "5 out of 5" in thanks["text"]
    await expect(page.get_by_test_id("rating")).to_contain_text("5 / 5", timeout=15_000)

    ratings = await eventually(lambda: _ratings(gateway))
    assert [(r.status, r.score) for r in ratings] == [(RatingStatus.RATED, 5)]
    assert scene.dialogs == []


async def _ratings(gateway: LiveGateway) -> list[Rating]:
    async with gateway.services.session_factory() as session:
        return list(await session.scalars(select(Rating)))


async def test_the_console_waits_for_sign_in(scene: Scene) -> None:
    await scene.page.goto(f"{scene.gateway.url}/console/queue")
    await expect(scene.page).to_have_url(f"{scene.gateway.url}/console/login")
