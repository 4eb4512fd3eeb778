"""The chat widget keeps the session id the gateway confirms (issue 11, finding 4).

A page that holds an id of its own (made up, or one the gateway never issued) is given a new
one in session_confirm; the widget stores that one and presents it after a reload, which
continues the same conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from bot.store.models import Conversation
from bot.webchat_address import webchat_address
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import running_rasa_standin

pytestmark = [pytest.mark.browser]

MADE_UP = "chosen-by-the-page"


@pytest.fixture
async def gateway(sqlite_url: str) -> AsyncIterator[LiveGateway]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway


async def _addresses(gateway: LiveGateway) -> list[str]:
    async with gateway.services.session_factory() as session:
        return list(await session.scalars(select(Conversation.address)))


async def test_the_widget_keeps_the_session_id_the_gateway_confirms(
    browser: Browser, gateway: LiveGateway
) -> None:
    context = await browser.new_context()
    await context.add_init_script(
        f"if (!localStorage.getItem('ccw_session_id')) "
        f"localStorage.setItem('ccw_session_id', '{MADE_UP}');"
    )
    page = await context.new_page()
    await page.goto(gateway.url)
    status = page.get_by_test_id("ccw-status")
    await expect(status).to_have_attribute("data-state", "connected")
    await page.get_by_test_id("ccw-input").fill("hello")
    await page.get_by_test_id("ccw-input").press("Enter")
    answers = page.locator('[data-testid="ccw-message"][data-sender="bot"]')
    await expect(answers.last).to_contain_text("My Orders", timeout=15_000)

    kept = await page.evaluate("localStorage.getItem('ccw_session_id')")
    assert kept != MADE_UP and len(kept) == 32
    assert await _addresses(gateway) == [webchat_address(kept)]

    await page.reload()
    await expect(status).to_have_attribute("data-state", "connected")
    await page.get_by_test_id("ccw-input").fill("me again")
    await page.get_by_test_id("ccw-input").press("Enter")
    await expect(answers).to_have_count(2, timeout=15_000)
    assert await page.evaluate("localStorage.getItem('ccw_session_id')") == kept
    assert await _addresses(gateway) == [webchat_address(kept)]  # the same conversation
    await context.close()
