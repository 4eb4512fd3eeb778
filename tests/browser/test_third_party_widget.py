"""One conversation, from another site's page, in Rasa's community widget and in the project's.

`rasa-webchat` 1.0.1 (npm, pinned in tests/browser/rasa_webchat/) shows a message only when its
keys are exactly Rasa's; the project's widget reads who wrote it from `metadata`. Both are
embedded on a page of another origin, pointed at the gateway, and talk to the real assistant:
an answer appears, its quick-reply buttons appear and work, a rep's reply (through the rep API)
reaches the page, and a reload keeps the conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy import select

from bench.rasa_stack import RasaStack
from bot.store.models import Conversation, ConversationState, Message
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.other_site import (
    MISSING_BUNDLE,
    RASA_WEBCHAT_BUNDLE,
    other_site,
    project_widget,
    rasa_webchat_widget,
)

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

ANSWER_WAIT_MS = 30_000


class Widget:
    """How a test drives one widget: open it, type, read replies, press a quick reply."""

    name: str

    def __init__(self, page: Page) -> None:
        self.page = page

    def embed(self, gateway_url: str) -> str:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    async def say(self, text: str) -> None:
        raise NotImplementedError

    def replies(self) -> Locator:
        """Every message the customer was sent (bot, rep or system), oldest first."""
        raise NotImplementedError

    def button(self, title: str) -> Locator:
        raise NotImplementedError


class RasaWebchat(Widget):
    name = "rasa-webchat"

    def embed(self, gateway_url: str) -> str:
        return rasa_webchat_widget(gateway_url)

    async def open(self) -> None:
        # After a reload the widget restores its own open state once mounted; reading the input
        # before the launcher is drawn would take "not mounted yet" for "closed", and the click
        # would then close the restored window.
        await expect(self.page.locator(".rw-launcher, .rw-new-message").first).to_be_visible()
        message_box = self.page.locator(".rw-new-message")
        for _attempt in range(3):
            if await message_box.is_visible():
                break
            await self.page.locator(".rw-launcher").click()
            try:
                await expect(message_box).to_be_visible(timeout=2_000)
            except AssertionError:
                continue
        await expect(message_box).to_be_enabled()

    async def say(self, text: str) -> None:
        await self.page.locator(".rw-new-message").fill(text)
        await self.page.locator(".rw-send").click()

    def replies(self) -> Locator:
        return self.page.locator(".rw-response")

    def button(self, title: str) -> Locator:
        return self.page.locator(".rw-reply", has_text=title)


class ProjectWidget(Widget):
    name = "project"

    def embed(self, gateway_url: str) -> str:
        return project_widget(gateway_url)

    async def open(self) -> None:
        await expect(self.page.get_by_test_id("ccw-status")).to_have_attribute(
            "data-state", "connected"
        )

    async def say(self, text: str) -> None:
        await self.page.get_by_test_id("ccw-input").fill(text)
        await self.page.get_by_test_id("ccw-input").press("Enter")

    def replies(self) -> Locator:
        return self.page.locator('[data-testid="ccw-message"]:not([data-sender="customer"])')

    def button(self, title: str) -> Locator:
        return self.page.get_by_test_id("ccw-button").filter(has_text=title)


@dataclass
class Rep:
    http: httpx.AsyncClient
    headers: dict[str, str]

    async def post(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        response = await self.http.post(path, json=body, headers=self.headers)
        assert response.status_code < 300, response.text
        return dict(response.json())


@pytest.fixture
async def gateway(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[LiveGateway]:
    # A first turn on a busy machine may take the assistant longer than the tests' usual 5 s.
    settings = make_settings(sqlite_url, rasa_stack.rasa_url, RASA_TIMEOUT_SECONDS=30.0)
    async with running_gateway(settings) as gateway:
        yield gateway


@pytest.fixture
async def rep(gateway: LiveGateway) -> AsyncIterator[Rep]:
    async with gateway.services.session_factory() as session:
        await make_rep(session, "ann")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/api/auth/login", json={"username": "ann", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        yield Rep(http, {"Authorization": f"Bearer {response.json()['access_token']}"})


async def _conversations(gateway: LiveGateway) -> list[Conversation]:
    async with gateway.services.session_factory() as session:
        return list(await session.scalars(select(Conversation)))


async def _queued(gateway: LiveGateway) -> list[Conversation]:
    return [c for c in await _conversations(gateway) if c.state == ConversationState.QUEUED]


async def _customer_texts(gateway: LiveGateway) -> list[str]:
    async with gateway.services.session_factory() as session:
        rows = await session.scalars(
            select(Message.text).where(Message.sender_kind == "customer").order_by(Message.id)
        )
        return list(rows)


@pytest.mark.parametrize("widget_type", [RasaWebchat, ProjectWidget], ids=lambda w: w.name)
async def test_a_conversation_from_another_sites_page(
    browser: Browser, gateway: LiveGateway, rep: Rep, widget_type: type[Widget]
) -> None:
    if widget_type is RasaWebchat and not RASA_WEBCHAT_BUNDLE.is_file():
        pytest.fail(MISSING_BUNDLE)
    context = await browser.new_context()
    page = await context.new_page()
    widget = widget_type(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    async with other_site(widget.embed(gateway.url)) as site:
        assert site.split(":")[2] != gateway.url.split(":")[2]  # another origin: another port
        await page.goto(site)
        await widget.open()

        # An answer from the assistant, with its quick replies.
        await widget.say("where is my order")
        replies = widget.replies()
        await expect(replies.last).to_contain_text("My Orders", timeout=ANSWER_WAIT_MS)
        await expect(widget.button("Yes, thanks")).to_be_visible()
        await expect(widget.button("No")).to_be_visible()

        # The quick replies work: "No" offers a person, and taking the offer queues the chat.
        await widget.button("No").first.click()
        await expect(replies.last).to_contain_text("Sorry that didn't help", timeout=ANSWER_WAIT_MS)
        await widget.button("Yes, connect me").click()
        await expect(replies.last).to_contain_text(
            "passed this to our support team", timeout=ANSWER_WAIT_MS
        )
        [conversation] = await eventually(lambda: _queued(gateway), timeout=15)

        # A rep claims it and replies through the rep API; the page shows the reply.
        await rep.post(f"/api/conversations/{conversation.id}/claim")
        await rep.post(
            f"/api/conversations/{conversation.id}/replies",
            {"text": "Hi, this is Ann from support. I'm looking at your order now."},
        )
        await expect(replies.last).to_contain_text("this is Ann", timeout=ANSWER_WAIT_MS)
        if widget_type is ProjectWidget:  # it labels a message by metadata.sender
            await expect(replies.last).to_have_attribute("data-sender", "rep")

        # A reload keeps the conversation: what was said is still there, and the next reply
        # and the customer's next message belong to the same conversation.
        await page.reload()
        await widget.open()
        await expect(replies.filter(has_text="this is Ann")).to_have_count(1)
        await expect(replies.filter(has_text="My Orders")).to_have_count(1)
        await rep.post(
            f"/api/conversations/{conversation.id}/replies", {"text": "Found it: it ships today."}
        )
        await expect(replies.last).to_contain_text("ships today", timeout=ANSWER_WAIT_MS)
        await widget.say("thank you")
        await eventually(lambda: _said(gateway, "thank you"), timeout=15)
        assert [c.id for c in await _conversations(gateway)] == [conversation.id]
    assert errors == []
    await context.close()


async def _said(gateway: LiveGateway, text: str) -> bool:
    return text in await _customer_texts(gateway)
