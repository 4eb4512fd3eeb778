"""Photos and PDFs from web chat customers: checked, cleaned, stored, shown to reps only.

Against a local folder and a local S3-compatible server (moto's server mode), on one gateway
and across two sharing the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot import system_texts
from bot.store.models import Conversation, Message, Role, utcnow
from bot.system_texts import TextKey
from handoff.customer_data import erase_contact
from handoff.retention import purge_inactive
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.photos import PDF, has_metadata, heic_with_location, photo_with_location
from tests.support.rasa_standin import running_rasa_standin
from tests.support.s3_server import S3Server, running_s3_server
from tests.support.webchat_customer import WebChatCustomer

UPLOADS = "/channels/webchat/uploads"
LINK_SECRET = "a-link-secret-both-gateways-share-0123456789"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(params=["folder", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The file store's settings: a local folder, or the S3-compatible server."""
    if request.param == "folder":
        return {"STORAGE_URL": f"file://{tmp_path / 'files'}"}
    server: S3Server = request.getfixturevalue("s3")
    prefix = tmp_path.name  # each test its own prefix in the shared bucket
    return {
        "STORAGE_URL": f"s3://{server.bucket}/{prefix}",
        "STORAGE_ENDPOINT_URL": server.endpoint_url,
    }


@dataclass
class Scene:
    gateway: LiveGateway
    other: LiveGateway  # a second instance on the same store and file store
    customer: WebChatCustomer
    rep: dict[str, str]  # a supervisor: may read any conversation (handoff/reading.py)
    admin: dict[str, str]
    outsider: dict[str, str]  # a rep, who may not read a conversation the bot still holds

    async def upload(
        self, data: bytes | Any, *, name: str = "photo.jpg", session_id: str | None = None
    ) -> httpx.Response:
        headers = {
            "X-Session-Id": session_id or str(self.customer.session_id),
            "X-File-Name": name,
            "Content-Type": "application/octet-stream",
        }
        async with httpx.AsyncClient(base_url=self.gateway.url, timeout=30) as http:
            return await http.post(UPLOADS, content=data, headers=headers)

    async def attachments(self) -> list[dict[str, Any]]:
        async with self.gateway.services.session_factory() as session:
            payloads = await session.scalars(select(Message.payload).order_by(Message.id))
            return [a for p in payloads for a in (p or {}).get("attachments", [])]


async def _token(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@asynccontextmanager
async def scene_with(sqlite_url: str, **settings: Any) -> AsyncIterator[Scene]:
    async with running_rasa_standin() as rasa:
        values = {"FILE_LINK_SECRET": LINK_SECRET, **settings}
        async with (
            running_gateway(make_settings(sqlite_url, rasa.url, **values)) as gateway,
            running_gateway(make_settings(sqlite_url, rasa.url, **values)) as other,
        ):
            async with gateway.services.session_factory() as session:
                await make_rep(session, "sam", Role.SUPERVISOR)
                await make_rep(session, "ada", Role.ADMIN)
                await make_rep(session, "ann")
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
                rep, admin = await _token(http, "sam"), await _token(http, "ada")
                outsider = await _token(http, "ann")
            customer = await WebChatCustomer().connect(gateway.url)
            try:
                yield Scene(gateway, other, customer, rep, admin, outsider)
            finally:
                await customer.close()


@pytest.fixture
async def scene(sqlite_url: str, storage: dict[str, str]) -> AsyncIterator[Scene]:
    async with scene_with(sqlite_url, **storage) as scene:
        yield scene


async def _rep_fetch(gateway: LiveGateway, url: str, rep: dict[str, str]) -> httpx.Response:
    """What a rep's click on the transcript's link gets: the redirect, then the file."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        redirect = await http.get(url, headers=rep)
        assert redirect.status_code == 303, redirect.text
        link = redirect.headers["location"]
        assert "expires=" in link and "signature=" in link
        return await http.get(link, headers=rep)


async def test_a_photo_reaches_the_rep_without_its_location_and_the_bot_says_so(
    scene: Scene,
) -> None:
    original = photo_with_location("JPEG")
    assert has_metadata(original)
    response = await scene.upload(original, name="damaged%20parcel.jpg")
    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    # The assistant reads text only, and says so, as on the other channels.
    [notice] = await scene.customer.receive()
    assert notice["text"] == system_texts.text(TextKey.ATTACHMENT_NOTICE, "en")

    [attachment] = await scene.attachments()
    assert attachment["kind"] == "image" and attachment["content_type"] == "image/jpeg"
    assert attachment["description"] == "damaged parcel.jpg"
    async with scene.gateway.services.session_factory() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    # The rep API (and the console) show it as a link to the conversation's file ...
    async with httpx.AsyncClient(base_url=scene.gateway.url, timeout=30) as http:
        detail = (await http.get(f"/api/conversations/{conversation_id}", headers=scene.rep)).json()
    [shown] = [a for m in detail["transcript"] for a in m["attachments"]]
    assert shown["url"] == f"/api/conversations/{conversation_id}/files/{attachment['file']}"
    # ... which, on either instance, gives a signed-in rep the photo, its metadata gone.
    for gateway in (scene.gateway, scene.other):
        served = await _rep_fetch(gateway, shown["url"], scene.rep)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert served.headers["cache-control"] == "private, no-store"
        assert not has_metadata(served.content)


async def test_files_are_for_signed_in_reps_through_links_that_cannot_be_forged(
    scene: Scene,
) -> None:
    assert (await scene.upload(PDF, name="receipt.pdf")).status_code == 201
    [attachment] = await scene.attachments()
    async with scene.gateway.services.session_factory() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    assert conversation_id is not None
    url = f"/api/conversations/{conversation_id}/files/{attachment['file']}"
    async with httpx.AsyncClient(base_url=scene.gateway.url, timeout=30) as http:
        assert (await http.get(url)).status_code == 401  # no rep
        # A rep who may not read the conversation may not open its files.
        assert (await http.get(url, headers=scene.outsider)).status_code == 403
        link = (await http.get(url, headers=scene.rep)).headers["location"]
        assert (await http.get(link)).status_code == 401  # the link alone is not enough
        served = await http.get(link, headers=scene.rep)
        assert served.status_code == 200 and served.content == PDF  # a PDF is kept as sent
        forged = link.replace("signature=", "signature=0")
        assert (await http.get(forged, headers=scene.rep)).status_code == 404
        expires = int(link.split("expires=")[1].split("&")[0])
        longer = link.replace(f"expires={expires}", f"expires={expires + 3600}")
        assert (await http.get(longer, headers=scene.rep)).status_code == 404
        expired = scene.gateway.services.desk.file_links.query(
            "rep-file", attachment["file"], seconds=-1
        )
        stale = f"{url}/content?{expired}"
        assert (await http.get(stale, headers=scene.rep)).status_code == 404
        for elsewhere in (
            f"/api/conversations/{conversation_id}/files/webchat/..%2F..%2Fetc",
            f"/api/conversations/{conversation_id}/files/webchat/{'A' * 32}.pdf",  # not its file
            f"/api/conversations/{conversation_id + 1}/files/{attachment['file']}",
        ):
            assert (await http.get(elsewhere, headers=scene.rep)).status_code == 404
        # Even with a live link, a rep who may not read the conversation is refused.
        assert (await http.get(link, headers=scene.outsider)).status_code == 403


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some text, named like a photo", "photo.jpg"),
        (b"MZ\x90\x00 a program", "invoice.pdf"),
        (b"GIF89a" + bytes(40), "funny.gif"),
        (b"\xff\xd8\xff\xe0 not really a jpeg at all", "broken.jpg"),
    ],
)
async def test_anything_but_a_photo_or_pdf_is_refused_by_its_bytes(
    scene: Scene, data: bytes, name: str
) -> None:
    response = await scene.upload(data, name=name)
    assert response.status_code == 415
    assert "photo" in response.json()["detail"]
    assert await scene.attachments() == []


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIC"])
async def test_png_webp_and_heic_photos_lose_their_metadata(scene: Scene, fmt: str) -> None:
    original = heic_with_location() if fmt == "HEIC" else photo_with_location(fmt)
    assert (await scene.upload(original, name=f"p.{fmt.lower()}")).status_code == 201
    [attachment] = await scene.attachments()
    # HEIC is kept as JPEG, which a rep's browser shows.
    expected = {"PNG": "image/png", "WEBP": "image/webp", "HEIC": "image/jpeg"}[fmt]
    assert attachment["content_type"] == expected
    stored = await scene.gateway.services.desk.files.get(attachment["file"])
    assert stored is not None and stored.content_type == expected
    assert not has_metadata(stored.data)


async def test_an_unknown_session_may_not_upload(scene: Scene) -> None:
    response = await scene.upload(PDF, session_id="never-issued-by-any-gateway")
    assert response.status_code == 403
    assert await scene.attachments() == []


async def test_the_erasure_of_a_customer_deletes_their_files(scene: Scene) -> None:
    assert (await scene.upload(photo_with_location())).status_code == 201
    assert await scene.customer.receive()  # the notice: the file's message was routed
    [attachment] = await scene.attachments()
    files = scene.gateway.services.desk.files
    assert await files.get(attachment["file"]) is not None
    async with scene.gateway.services.session_factory() as session:
        contact_id = await session.scalar(select(Conversation.contact_id))
    assert contact_id is not None
    # Rasa's tracker is left out here (the stand-in keeps none): the store and the files.
    counts = await erase_contact(
        scene.gateway.services.session_factory,
        contact_id,
        rasa=None,
        actor="test",
        now=utcnow(),
        files=files,
    )
    assert counts["files"] == 1 and counts["messages"] >= 2
    assert await files.get(attachment["file"]) is None


async def test_retention_deletes_the_files_of_what_it_purges(scene: Scene) -> None:
    assert (await scene.upload(PDF, name="old receipt.pdf")).status_code == 201
    assert await scene.customer.receive()
    [attachment] = await scene.attachments()
    files = scene.gateway.services.desk.files
    report = await purge_inactive(
        scene.gateway.services.session_factory,
        older_than_days=30,
        actor="test",
        now=utcnow() + timedelta(days=31),
        files=files,
    )
    assert report.counts["conversations"] == 1 and report.counts["files"] == 1
    assert await files.get(attachment["file"]) is None


async def test_a_file_over_the_limit_is_refused_while_it_streams(sqlite_url: str) -> None:
    async with scene_with(sqlite_url, MAX_UPLOAD_BYTES=50_000) as scene:
        declared = await scene.upload(bytes(60_000))
        assert declared.status_code == 413
        # The gateway's body limit for this path (MAX_UPLOAD_BYTES) or the route, whichever
        # reads it first, says what the limit is.
        detail = declared.json()["detail"]
        assert "too big" in detail or "50,000 bytes" in detail
        sent: list[int] = []

        async def endless() -> AsyncIterator[bytes]:
            """A chunked body with no length: refused once past the limit, not read to the end."""
            head = photo_with_location()
            sent.append(len(head))
            yield head
            for _ in range(1000):
                sent.append(10_000)
                yield bytes(10_000)
                await asyncio.sleep(0)

        # The gateway answers 413 and closes the connection while the body still comes: the
        # client sees the answer or, mid-write, the connection closed.
        try:
            streamed = await scene.upload(endless())
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            pass
        else:
            assert streamed.status_code == 413
        assert sum(sent) < 10_000_000  # stopped well before the end
        assert await scene.attachments() == []
        # Under the limit is fine.
        assert (await scene.upload(photo_with_location(size=(400, 300)))).status_code == 201


async def test_uploads_are_rate_limited_per_sender(sqlite_url: str) -> None:
    async with scene_with(sqlite_url, UPLOAD_BURST=2, UPLOAD_RATE_PER_MINUTE=1) as scene:
        statuses = [(await scene.upload(PDF)).status_code for _ in range(4)]
        assert statuses == [201, 201, 429, 429]
        assert len(await scene.attachments()) == 2
        # Another customer has their own allowance.
        other = await WebChatCustomer().connect(scene.gateway.url)
        assert (await scene.upload(PDF, session_id=other.session_id)).status_code == 201
        await other.close()


async def test_cross_origin_preflight_is_answered(sqlite_url: str) -> None:
    async with scene_with(sqlite_url) as scene:
        async with httpx.AsyncClient(base_url=scene.gateway.url) as http:
            response = await http.options(
                UPLOADS,
                headers={
                    "Origin": "https://shop.example",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "x-session-id, x-file-name, content-type",
                },
            )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert "X-Session-Id" in response.headers["access-control-allow-headers"]
