"""The chat widget tells the gateway the browser's language with each message.

"ok" says nothing of its language: a new conversation takes the browser's, which the widget
sends as `metadata.language` (navigator.language, set here by the browser context's locale).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from bot.store.models import Conversation
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin

pytestmark = [pytest.mark.browser]


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[LiveGateway, RasaStandIn]]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway, rasa


async def _languages(gateway: LiveGateway) -> list[str | None]:
    async with gateway.services.session_factory() as session:
        return list(await session.scalars(select(Conversation.language)))


@pytest.mark.parametrize(("locale", "language"), [("fr-HT", "fr"), ("es-419", "es")])
async def test_the_widget_sends_the_browser_language(
    browser: Browser, served: tuple[LiveGateway, RasaStandIn], locale: str, language: str
) -> None:
    gateway, rasa = served
    context = await browser.new_context(locale=locale)
    page = await context.new_page()
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
    await page.goto(gateway.url)
    assert await page.evaluate("navigator.language") == locale
    await expect(page.get_by_test_id("ccw-status")).to_have_attribute("data-state", "connected")
    await page.get_by_test_id("ccw-input").fill("ok")
    await page.get_by_test_id("ccw-input").press("Enter")
    answers = page.locator('[data-testid="ccw-message"][data-sender="bot"]')
    await expect(answers.last).to_contain_text("My Orders", timeout=15_000)
    await context.close()

    # On the wire, as the widget sent it …
    [uttered] = [frame for frame in sent if '"user_uttered"' in frame]
    assert f'"metadata":{{"language":"{locale}"}}' in uttered
    # … and what the gateway made of it: the conversation's language, sent to the assistant.
    assert await _languages(gateway) == [language]
    assert rasa.received[0]["metadata"] == {"channel": "webchat", "language": language}
