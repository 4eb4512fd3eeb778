"""The demo page and its chat widget in a real browser, against the real assistant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from bench.rasa_stack import RasaStack
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


@pytest.fixture
async def gateway(rasa_stack: RasaStack, sqlite_url: str) -> AsyncIterator[LiveGateway]:
    async with running_gateway(make_settings(sqlite_url, rasa_stack.rasa_url)) as gateway:
        yield gateway


async def test_a_customer_types_a_question_and_sees_the_answer(
    browser: Browser, gateway: LiveGateway
) -> None:
    page = await browser.new_page()
    await page.goto(gateway.url)
    await expect(page.get_by_test_id("ccw-panel")).to_be_visible()
    await expect(page.get_by_test_id("ccw-status")).to_have_attribute("data-state", "connected")

    await page.get_by_test_id("ccw-input").fill("how do I track my order CC-482913?")
    await page.get_by_test_id("ccw-input").press("Enter")

    answer = page.locator('[data-testid="ccw-message"][data-sender="bot"]').last
    await expect(answer).to_contain_text("My Orders", timeout=15_000)
    customer = page.locator('[data-testid="ccw-message"][data-sender="customer"]').last
    await expect(customer).to_have_text("how do I track my order CC-482913?")
    await page.close()


async def test_customer_html_is_shown_as_text(browser: Browser, gateway: LiveGateway) -> None:
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await page.goto(gateway.url)
    await expect(page.get_by_test_id("ccw-status")).to_have_attribute("data-state", "connected")
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await page.get_by_test_id("ccw-input").fill(payload)
    await page.get_by_test_id("ccw-send").click()
    customer = page.locator('[data-testid="ccw-message"][data-sender="customer"]').last
    await expect(customer).to_have_text(payload)
    await expect(page.locator('[data-testid="ccw-message"][data-sender="bot"]').last).to_be_visible(
        timeout=15_000
    )
    assert dialogs == []
    assert await page.locator('[data-testid="ccw-panel"] img[src="x"]').count() == 0
    await page.close()
