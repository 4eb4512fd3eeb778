"""A customer sends a photo from the widget; a supervisor opens it in the console, its
location gone. Too big or not a photo/PDF, the widget says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from bot.store.models import Role
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.photos import has_metadata, photo_with_location
from tests.support.rasa_standin import running_rasa_standin

pytestmark = [pytest.mark.browser]

LIMIT = 50_000


@pytest.fixture
async def gateway(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        sqlite_url, STORAGE_URL=f"file://{tmp_path / 'files'}", MAX_UPLOAD_BYTES=LIMIT
    )
    async with running_rasa_standin() as rasa:
        settings = settings.model_copy(update={"RASA_URL": rasa.url})
        async with running_gateway(settings) as gateway:
            async with gateway.services.session_factory() as session:
                await make_rep(session, "sam", Role.SUPERVISOR)
            yield gateway


async def _attach(page: Page, path: Path) -> None:
    await page.get_by_test_id("ccw-file").set_input_files(str(path))


async def test_a_photo_from_the_widget_reaches_the_console_without_its_location(
    browser: Browser, gateway: LiveGateway, tmp_path: Path
) -> None:
    photo = tmp_path / "damaged parcel.jpg"
    photo.write_bytes(photo_with_location())
    not_a_photo = tmp_path / "invoice.jpg"
    not_a_photo.write_bytes(b"this is a text file wearing a .jpg name " * 10)
    too_big = tmp_path / "huge.pdf"
    too_big.write_bytes(b"%PDF-1.4\n" + bytes(LIMIT))

    customer = await browser.new_page()
    await customer.goto(gateway.url)
    await expect(customer.get_by_test_id("ccw-status")).to_have_attribute("data-state", "connected")
    await _attach(customer, photo)
    sent = customer.locator('[data-upload="sent"]')
    await expect(sent).to_have_count(1, timeout=15_000)
    await expect(sent).to_contain_text("damaged parcel.jpg")
    notice = customer.get_by_test_id("ccw-message").filter(has_text="I can only read text")
    await expect(notice).to_have_count(1, timeout=15_000)

    errors = customer.locator(".ccw-error")
    await _attach(customer, not_a_photo)
    await expect(errors.last).to_contain_text("Only a photo", timeout=15_000)
    await _attach(customer, too_big)
    await expect(errors.last).to_contain_text("50,000", timeout=15_000)
    await expect(customer.locator('[data-upload="failed"]')).to_have_count(2)

    # A supervisor opens the conversation in the console and the photo from it.
    console = await browser.new_page()
    await console.goto(f"{gateway.url}/console/login")
    await console.get_by_label("Username").fill("sam")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Sign in").click()
    await expect(console.get_by_test_id("signed-in-as")).to_have_text("Sam")
    await console.goto(f"{gateway.url}/console/conversations/1")
    link = console.get_by_test_id("attachment-link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_text("damaged parcel.jpg")
    href = await link.get_attribute("href")
    assert href is not None
    opened = await console.request.get(f"{gateway.url}{href}")  # the rep's cookie goes along
    assert opened.status == 200 and opened.headers["content-type"] == "image/jpeg"
    assert not has_metadata(await opened.body())
    # The customer's page, another browser context, cannot open it.
    stranger = await browser.new_context()
    refused = await stranger.request.get(f"{gateway.url}{href}", max_redirects=0)
    assert refused.status == 401
    await stranger.close()
    await console.close()
    await customer.close()
