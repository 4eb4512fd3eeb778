"""In headless Chromium: the reports page draws its charts, and the SLA watch updates live."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from bot.store.models import Role, utcnow
from handoff.monitor import SlaMonitor
from tests.handoff.conftest import Desk
from tests.handoff.factories import PASSWORD
from tests.handoff.report_data import seed_known

pytestmark = pytest.mark.browser


async def _sign_in(page: Page, url: str, username: str) -> None:
    await page.goto(f"{url}/console/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("signed-in-as")).to_be_visible()


async def test_the_reports_page_renders_its_charts(desk: Desk, browser: Browser) -> None:
    await seed_known(desk.services.session_factory)
    page = await browser.new_page(viewport={"width": 1366, "height": 900})
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium asks every site for /favicon.ico; the console has none.
        if message.type in ("error", "warning") and "favicon" not in message.location["url"]:
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        await _sign_in(page, desk.gateway.url, "sue")
        await page.get_by_role("link", name="Reports").click()
        await page.get_by_test_id("report-start").fill("2026-03-01")
        await page.get_by_test_id("report-end").fill("2026-03-03")
        await page.get_by_role("button", name="Show").click()
        await expect(page).to_have_url(
            f"{desk.gateway.url}/console/reports?start=2026-03-01&end=2026-03-03&channel="
        )
        charts = page.locator("svg.chart")
        await expect(charts).to_have_count(12)
        for testid in (
            "chart-per-day",
            "chart-containment",
            "chart-first-response",
            "chart-clocks",
        ):
            chart = page.get_by_test_id(testid)
            await expect(chart).to_be_visible()
            box = await chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 20, (testid, box)
        # Six customer-days, one column piece each; colours come from the stylesheet.
        pieces = page.get_by_test_id("chart-per-day").locator("rect")
        await expect(pieces).to_have_count(6)
        fill = await pieces.first.evaluate("r => getComputedStyle(r).fill")
        assert fill not in ("", "none", "rgb(0, 0, 0)"), fill
        await expect(page.get_by_test_id("report-containment")).to_contain_text("20% of 5")
        await expect(page.get_by_test_id("report-clocks")).to_contain_text(
            "Targets: first response 1/4/24/24 business hours (urgent/high/normal/low); next "
            "responses 4 business hours; resolution 40 business hours."
        )
        await page.get_by_test_id("report-channel").select_option("webchat")
        await page.get_by_role("button", name="Show").click()
        await expect(page.get_by_test_id("report-containment")).to_contain_text("50% of 2")
        assert problems == []
    finally:
        await page.close()


async def test_the_sla_watch_shows_a_breach_without_a_reload(desk: Desk, browser: Browser) -> None:
    await desk.rep("sue", Role.SUPERVISOR)
    requested = utcnow()
    conversation_id = await desk.queued("customer-late", priority="urgent", now=requested)
    page = await browser.new_page()
    try:
        await _sign_in(page, desk.gateway.url, "sue")
        await page.goto(f"{desk.gateway.url}/console/sla")
        await expect(page.get_by_test_id("at-risk-count")).to_have_text("0")
        await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "on")
        # Another gateway instance's monitor, an hour later: the lease is free after its ttl.
        later = SlaMonitor(
            desk.services.session_factory,
            live=desk.services.desk.live,
            clock=lambda: requested + timedelta(hours=1, minutes=5),
            holder="test-monitor",
        )
        report = await later.tick()
        assert report.ran and {m.kind for m in report.marks} == {"at_risk", "breached"}
        row = page.get_by_test_id("at-risk-row")
        await expect(row).to_have_count(1, timeout=10_000)
        await expect(row).to_have_attribute("data-conversation-id", str(conversation_id))
        await expect(row).to_contain_text("breached")
    finally:
        await page.close()
