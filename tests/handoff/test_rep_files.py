"""A rep attaches a file to a reply: media on WhatsApp and MMS (Twilio fetches it from an
expiring signed link the gateway serves), a document on Telegram, a link on web chat."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from bot.store.models import Conversation, ConversationState
from tests.handoff.factories import PASSWORD, make_rep
from tests.handoff.test_console import _csrf, sign_in
from tests.handoff.test_replies_and_feedback import (
    HANDOFF_TURN,
    HandedOver,
    handed_over,  # noqa: F401 (a fixture)
)
from tests.support.gateway import LiveGateway
from tests.support.net import eventually
from tests.support.photos import PDF, has_metadata, photo_with_location
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import CUSTOMER, running_telegram_gateway
from tests.support.twilio_standin import (
    PUBLIC_BASE_URL,
    TwilioHarness,
    running_twilio_gateway,
    whatsapp,
)

WHATSAPP_CUSTOMER = "whatsapp:+12465550123"


async def _rep(gateway: LiveGateway) -> tuple[httpx.AsyncClient, dict[str, str]]:
    async with gateway.services.session_factory() as session:
        await make_rep(session, "ann")
    client = httpx.AsyncClient(base_url=gateway.url, timeout=30)
    login = await client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    return client, {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _send_file(
    client: httpx.AsyncClient,
    rep: dict[str, str],
    conversation_id: int,
    data: bytes,
    *,
    name: str,
    text: str | None = None,
) -> httpx.Response:
    base = f"/api/conversations/{conversation_id}"
    assert (await client.post(f"{base}/claim", headers=rep)).status_code == 200
    return await client.post(
        f"{base}/files",
        content=data,
        params={"text": text} if text else None,
        headers={**rep, "X-File-Name": name, "Content-Type": "application/octet-stream"},
    )


def _on_gateway(url: str, gateway: LiveGateway, base: str = PUBLIC_BASE_URL) -> str:
    """A link made for PUBLIC_BASE_URL (`base`), fetched from the test's gateway instead."""
    assert url.startswith(base + "/channels/media/replies/")
    parts = urlsplit(url)
    return f"{gateway.url}{parts.path}?{parts.query}"


async def test_a_reps_pdf_reaches_whatsapp_as_media(sqlite_url: str) -> None:
    async with running_twilio_gateway(sqlite_url, rasa=RasaStandIn(reply=HANDOFF_TURN)) as h:
        await h.twilio.message(whatsapp("+12465550123", "I need a person"))
        await h.api.wait_for(WHATSAPP_CUSTOMER)  # the promise
        conversation = await eventually(lambda: _queued(h))
        client, rep = await _rep(h.gateway)
        try:
            sent = await _send_file(
                client, rep, conversation.id, PDF, name="receipt.pdf", text="Your receipt"
            )
            assert sent.status_code == 201, sent.text
            assert sent.json()["delivery_status"] == "sent"
            _, media = await h.api.wait_for(WHATSAPP_CUSTOMER, 2)
            assert media["Body"] == "Ann (Caricom Connects): Your receipt"  # REP_REPLY_FORMAT
            link = media["MediaUrl"]
            # Twilio fetches the file from the link: no sign-in, the signature is the permission.
            async with httpx.AsyncClient() as twilio:
                fetched = await twilio.get(_on_gateway(link, h.gateway))
                assert fetched.status_code == 200
                assert fetched.content == PDF
                assert fetched.headers["content-type"] == "application/pdf"
                tampered = await twilio.get(_on_gateway(link, h.gateway).replace("=", "=1", 1))
                assert tampered.status_code == 404
            # The rep's message keeps the file for the console, and retention deletes it.
            detail = (await client.get(f"/api/conversations/{conversation.id}", headers=rep)).json()
            [rep_message] = [m for m in detail["transcript"] if m["sender_kind"] == "rep"]
            [attachment] = rep_message["attachments"]
            assert attachment["description"] == "receipt.pdf"
            assert attachment["content_type"] == "application/pdf"
        finally:
            await client.aclose()


async def test_a_reps_pdf_reaches_telegram_as_a_document(sqlite_url: str) -> None:
    async with (
        running_rasa_standin(RasaStandIn(reply=HANDOFF_TURN)) as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as h,
    ):
        assert (await h.post(h.updates.message("I need a person"))).status_code == 200
        conversation = await eventually(lambda: _telegram_queued(h), timeout=10)
        client, rep = await _rep(h.gateway)
        try:
            sent = await _send_file(client, rep, conversation.id, PDF, name="receipt.pdf")
            assert sent.status_code == 201, sent.text
            assert sent.json()["delivery_status"] == "sent"
            [document] = h.telegram.documents
            assert document["chat"]["id"] == CUSTOMER["id"]
            assert document["document_bytes"] == PDF
            assert document["document"]["file_name"] == "receipt.pdf"
            # No text given: the file's name, as REP_REPLY_FORMAT frames a person's words.
            assert document["caption"] == "Ann (Caricom Connects): receipt.pdf"
        finally:
            await client.aclose()


async def test_a_reps_photo_reaches_web_chat_as_a_link_without_metadata(
    handed_over: HandedOver,  # noqa: F811 (the fixture imported above)
) -> None:
    h = handed_over
    client = h.desk.http
    sent = await _send_file(
        client, h.rep, h.conversation_id, photo_with_location(), name="label.jpg", text="See this"
    )
    assert sent.status_code == 201, sent.text
    [received] = await h.customer.receive()
    # Rasa's text shape, the link on its own line; the file described under metadata.
    assert sorted(received) == ["metadata", "text"]
    text, link = received["text"].split("\n")
    assert text == "See this"
    assert received["metadata"]["attachment"]["url"] == link
    assert received["metadata"]["sender"] == "rep"
    async with httpx.AsyncClient() as browser:
        base = h.desk.services.settings.PUBLIC_BASE_URL
        fetched = await browser.get(_on_gateway(link, h.desk.gateway, base))
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    assert not has_metadata(fetched.content)


async def test_a_file_is_refused_when_it_is_not_a_photo_or_pdf(
    handed_over: HandedOver,  # noqa: F811 (the fixture imported above)
) -> None:
    h = handed_over
    sent = await _send_file(h.desk.http, h.rep, h.conversation_id, b"#!/bin/sh\n", name="x.pdf")
    assert sent.status_code == 422 or sent.status_code == 400
    assert "photo" in sent.text


async def _queued(h: TwilioHarness) -> Conversation | None:
    found = await h.all(Conversation, channel="whatsapp")
    return next((c for c in found if c.state == ConversationState.QUEUED), None)


async def _telegram_queued(h: object) -> Conversation | None:
    found = await h.rows(Conversation)  # type: ignore[attr-defined]
    return next((c for c in found if c.state == ConversationState.QUEUED), None)


async def test_a_rep_sends_a_file_from_the_console(
    handed_over: HandedOver,  # noqa: F811 (the fixture imported above)
) -> None:
    h = handed_over
    await h.post("claim")
    await sign_in(h.desk, "ann")
    page = await h.desk.http.get(f"/console/conversations/{h.conversation_id}")
    assert 'data-testid="file-form"' in page.text
    sent = await h.desk.http.post(
        f"/console/conversations/{h.conversation_id}/file",
        data={"csrf_token": _csrf(page.text), "text": "Your label"},
        files={"file": ("label.pdf", PDF, "application/pdf")},
    )
    assert sent.status_code == 303
    [received] = await h.customer.receive()
    assert received["text"].startswith("Your label\n")
    assert received["metadata"]["attachment"]["name"] == "label.pdf"
    # Anything else is refused with a notice, and nothing is sent.
    refused = await h.desk.http.post(
        f"/console/conversations/{h.conversation_id}/file",
        data={"csrf_token": _csrf(page.text)},
        files={"file": ("run.pdf", b"#!/bin/sh\n", "application/pdf")},
    )
    assert refused.status_code == 303
    assert h.customer.inbox.empty()
