"""The chat widget's own labels follow the browser's language (or the page's data-lang).

The labels live in one table per language in widget.js; the browser context's locale sets
navigator.language, which picks the table.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import running_rasa_standin

pytestmark = [pytest.mark.browser]

WIDGET_JS = Path(__file__).parents[2] / "channels" / "webchat_static" / "widget.js"
LANGUAGES = {"en", "es", "fr", "ht", "nl"}

# The labels on show once the panel is open and connected (see _labels_shown).
LABELS_SHOWN = {
    "title",
    "status_connected",
    "launcher_close",
    "close",
    "conversation",
    "intro",
    "typing",
    "input_label",
    "input_placeholder",
    "input_hint",
    "send",
    "attach",
}


@pytest.fixture
async def gateway(sqlite_url: str) -> AsyncIterator[LiveGateway]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway


def _table_source() -> str:
    """The object literal of widget.js's label table, as written."""
    source = WIDGET_JS.read_text(encoding="utf-8")
    match = re.search(r"\n  const TEXTS = (\{.*?\n  \});\n", source, re.S)
    assert match, "widget.js has no `const TEXTS = {…};` table"
    return match.group(1)


async def _tables(page: Page) -> dict[str, dict[str, str]]:
    """The table evaluated by the browser's own JavaScript engine."""
    tables: dict[str, dict[str, str]] = await page.evaluate(f"() => ({_table_source()})")
    return tables


async def _labels_shown(page: Page) -> dict[str, str | None]:
    """Every label the widget shows or announces before any conversation."""
    launcher = page.get_by_test_id("ccw-launcher")
    panel = page.get_by_test_id("ccw-panel")
    return {
        "title": await panel.locator(".ccw-title").text_content(),
        "status_connected": await page.get_by_test_id("ccw-status").text_content(),
        "launcher_close": await launcher.get_attribute("aria-label"),
        "close": await panel.locator(".ccw-close").get_attribute("aria-label"),
        "conversation": await panel.locator(".ccw-messages").get_attribute("aria-label"),
        "intro": await panel.locator(".ccw-intro").text_content(),
        "typing": await panel.locator(".ccw-row-typing .ccw-sr-only").text_content(),
        "input_label": await panel.locator('label[for="ccw-input"]').text_content(),
        "input_placeholder": await page.get_by_test_id("ccw-input").get_attribute("placeholder"),
        "input_hint": await panel.locator("#ccw-hint").text_content(),
        "send": await page.get_by_test_id("ccw-send").get_attribute("aria-label"),
        "attach": await page.get_by_test_id("ccw-attach").get_attribute("aria-label"),
    }


async def test_every_language_has_every_english_label(browser: Browser) -> None:
    page = await browser.new_page()
    tables = await _tables(page)
    await page.close()

    assert set(tables) == LANGUAGES
    english = tables["en"]
    for language, table in tables.items():
        assert set(table) == set(english), language
        for key, text in table.items():
            assert isinstance(text, str) and text.strip(), (language, key)
            # {count} and the like are filled in by the widget: the same in every language.
            assert re.findall(r"\{\w+\}", text) == re.findall(r"\{\w+\}", english[key]), (
                language,
                key,
            )


async def test_a_french_browser_sees_french_labels(browser: Browser, gateway: LiveGateway) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(gateway.url)
    status = page.get_by_test_id("ccw-status")
    await expect(status).to_have_attribute("data-state", "connected")

    await expect(status).to_have_text("En ligne")
    await expect(page.get_by_test_id("ccw-input")).to_have_attribute(
        "placeholder", "Saisissez votre message…"
    )
    await expect(page.locator(".ccw-intro")).to_contain_text("Posez-nous toutes vos questions")
    await expect(page.get_by_test_id("ccw-attach")).to_have_attribute(
        "aria-label", "Joindre une photo ou un PDF"
    )
    await expect(page.get_by_test_id("ccw-launcher")).to_have_attribute(
        "aria-label", "Fermer le chat d\N{RIGHT SINGLE QUOTATION MARK}assistance"
    )
    await expect(page.locator(".ccw-root")).to_have_attribute("lang", "fr")
    assert await _labels_shown(page) == {
        key: text for key, text in (await _tables(page))["fr"].items() if key in LABELS_SHOWN
    }

    # Closed, with an answer waiting: the launcher counts it in French.
    await page.get_by_test_id("ccw-input").fill("ok")
    await page.get_by_test_id("ccw-input").press("Enter")
    await expect(page.locator(".ccw-row-bot .ccw-label").first).to_have_text("Assistant")
    await page.get_by_test_id("ccw-launcher").click()
    await expect(page.get_by_test_id("ccw-launcher")).to_have_attribute(
        "aria-label", "Ouvrir le chat d\N{RIGHT SINGLE QUOTATION MARK}assistance"
    )
    await page.evaluate("window.CaricomChat.send('ok')")
    await expect(page.get_by_test_id("ccw-launcher")).to_have_attribute(
        "aria-label",
        re.compile(
            "^Ouvrir le chat d\N{RIGHT SINGLE QUOTATION MARK}assistance "
            r"\((1 nouveau message|[2-9] nouveaux messages)\)$"
        ),
    )
    await context.close()


async def test_a_haitian_creole_browser_sees_kreyol_labels(
    browser: Browser, gateway: LiveGateway
) -> None:
    context = await browser.new_context(locale="ht")
    page = await context.new_page()
    await page.goto(gateway.url)
    status = page.get_by_test_id("ccw-status")
    await expect(status).to_have_attribute("data-state", "connected")

    await expect(status).to_have_text("Sou liy")
    await expect(page.get_by_test_id("ccw-input")).to_have_attribute(
        "placeholder", "Ekri mesaj ou…"
    )
    await expect(page.locator(".ccw-intro")).to_contain_text("Poze nou nenpòt kesyon")
    await expect(page.get_by_test_id("ccw-send")).to_have_attribute("aria-label", "Voye mesaj la")
    assert await _labels_shown(page) == {
        key: text for key, text in (await _tables(page))["ht"].items() if key in LABELS_SHOWN
    }

    await page.get_by_test_id("ccw-input").fill("ok")
    await page.get_by_test_id("ccw-input").press("Enter")
    await expect(page.locator(".ccw-row-bot .ccw-label").first).to_have_text("Asistan")
    await context.close()


async def test_the_page_can_choose_the_language(browser: Browser, gateway: LiveGateway) -> None:
    """data-lang on the script tag wins over the browser's language."""
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    html = (
        "<!doctype html><html><head><title>Shop</title></head><body><p>Shop</p>"
        '<script src="/static/webchat/widget.js" data-server="" data-open="true" data-lang="nl" '
        "defer></script></body></html>"
    )
    await page.route(
        f"{gateway.url}/shop", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    await page.goto(f"{gateway.url}/shop")
    await expect(page.locator(".ccw-title")).to_have_text("Caricom Connects — Klantenservice")
    await expect(page.get_by_test_id("ccw-input")).to_have_attribute(
        "placeholder", "Typ uw bericht…"
    )
    await expect(page.locator(".ccw-root")).to_have_attribute("lang", "nl")
    await context.close()


async def test_an_unknown_browser_language_gets_english(
    browser: Browser, gateway: LiveGateway
) -> None:
    context = await browser.new_context(locale="de-DE")
    page = await context.new_page()
    await page.goto(gateway.url)
    status = page.get_by_test_id("ccw-status")
    await expect(status).to_have_attribute("data-state", "connected")
    await expect(status).to_have_text("Online")
    await expect(page.get_by_test_id("ccw-input")).to_have_attribute(
        "placeholder", "Type your message…"
    )
    await context.close()
