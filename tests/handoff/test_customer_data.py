"""One customer's data on request, and retention, reaching Rasa's tracker store: a real Rasa
server whose gateway channel needs RASA_CHANNEL_TOKEN, its tracker store on PostgreSQL (SQLite
when PostgreSQL is not reachable and not required), and the gateway's store on both engines."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bench.rasa_stack import RasaStack
from bot.rasa_client import READY_PATH, TURN_PATH
from bot.store.models import AuditEvent, Contact, Conversation, Role, utcnow
from handoff.customer_data import export_contact
from handoff.retention import CONVERSATION_RECORDS, purge_inactive
from tests.conftest import POSTGRES_ADMIN_URL, make_settings
from tests.handoff.conftest import Desk
from tests.support.gateway import running_gateway
from tests.support.rasa_standin import running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer

pytestmark = pytest.mark.rasa
TOKEN = "channel-" + "t" * 40


def _postgres_tracker(name: str) -> str | None:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        return None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # Rasa makes its tables, not the database
    host = POSTGRES_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    hostname, _, port = host.partition(":")
    return (
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n"
        f"  url: {hostname}\n  port: {port or 5432}\n  db: {name}\n  username: postgres\n"
    )


@pytest.fixture(scope="module")
def token_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    name = f"cc_tracker_{uuid.uuid4().hex[:10]}"
    tracker = _postgres_tracker(name)
    stack = RasaStack(
        workdir=tmp_path_factory.mktemp("rasa-token"),
        environment={"RASA_CHANNEL_TOKEN": TOKEN},
        tracker_store=tracker,
    ).start()
    yield stack
    stack.stop()
    if tracker is not None:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def desk_with_rasa(database_url: str, token_rasa: RasaStack) -> AsyncIterator[Desk]:
    settings = make_settings(database_url, token_rasa.rasa_url, RASA_CHANNEL_TOKEN=TOKEN)
    async with (
        running_rasa_standin() as unused,
        running_gateway(settings) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
    ):
        yield Desk(gateway, unused, http)


async def test_the_gateway_channel_refuses_requests_without_the_token(
    token_rasa: RasaStack,
) -> None:
    turn = {"sender": "intruder-1", "message": "hello", "metadata": {}}
    async with httpx.AsyncClient(base_url=token_rasa.rasa_url, timeout=30) as client:
        assert (await client.get(READY_PATH)).status_code == 200  # health checks stay open
        assert (await client.post(TURN_PATH, json=turn)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await client.post(TURN_PATH, json=turn, headers=wrong)).status_code == 401
        assert (await client.get("/webhooks/gateway/trackers/x")).status_code == 401
        assert (await client.delete("/webhooks/gateway/trackers/x")).status_code == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.post(TURN_PATH, json=turn, headers=right)).status_code == 200
        # Past the one guard, each route does its own work.
        bad = await client.post(TURN_PATH, json={"sender": "intruder-1"}, headers=right)
        assert bad.status_code == 400, bad.text
        read = await client.get("/webhooks/gateway/trackers/intruder-1", headers=right)
        assert read.status_code == 200 and read.json()["events"], read.text
        erased = await client.delete("/webhooks/gateway/trackers/intruder-1", headers=right)
        assert erased.status_code == 200 and erased.json()["erased"] > 0, erased.text


async def _customer_conversation(desk: Desk, text: str) -> Conversation:
    customer = await WebChatCustomer().connect(desk.gateway.url)
    try:
        await customer.say(text)
    finally:
        await customer.close()
    async with desk.services.session_factory() as session:
        found = await session.scalar(
            select(Conversation).where(Conversation.address == customer.address)
        )
        assert found is not None
        return found


async def test_a_customer_is_exported_and_erased_from_the_store_and_the_tracker(
    desk_with_rasa: Desk,
) -> None:
    desk = desk_with_rasa
    rasa = desk.services.rasa
    conversation = await _customer_conversation(desk, "hello")
    sender = conversation.rasa_sender_id
    assert await rasa.tracker_events(sender)
    await desk.rep("ann")
    await desk.rep("ada", Role.ADMIN)
    admin = await desk.auth("ada")
    path = f"/api/contacts/{conversation.contact_id}"
    assert (await desk.http.get(f"{path}/data", headers=await desk.auth("ann"))).status_code == 403

    held = await desk.http.get(f"{path}/data", headers=admin)
    assert held.status_code == 200, held.text
    [record] = held.json()["conversations"]
    assert any(m["text"] == "hello" for m in record["messages"])
    assert any(e.get("text") == "hello" for e in record["assistant_tracker"])

    erased = await desk.http.delete(path, headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["conversations"] == 1 and erased.json()["messages"] >= 2
    assert await desk.all(Conversation, id=conversation.id) == []
    assert await desk.all(Contact, id=conversation.contact_id) == []
    assert not await rasa.tracker_events(sender)
    [event] = [e for e in await desk.all(AuditEvent) if "erased" in e.reason]
    assert event.actor.startswith("rep:") and f"contact {conversation.contact_id}" in event.reason


async def test_erasure_is_refused_while_a_person_handles_the_customer(desk: Desk) -> None:
    conversation_id = await desk.queued("waiting-1")
    [conversation] = await desk.all(Conversation, id=conversation_id)
    await desk.rep("ada", Role.ADMIN)
    response = await desk.http.delete(
        f"/api/contacts/{conversation.contact_id}", headers=await desk.auth("ada")
    )
    assert response.status_code == 409
    assert await desk.all(Conversation, id=conversation_id)


async def test_retention_erases_the_tracker_too(desk_with_rasa: Desk, tmp_path: Path) -> None:
    desk = desk_with_rasa
    rasa = desk.services.rasa
    conversation = await _customer_conversation(desk, "where is my order")
    assert await rasa.tracker_events(conversation.rasa_sender_id)
    long_ago = utcnow() - timedelta(days=400)
    async with desk.services.session_factory() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(last_message_at=long_ago, created_at=long_ago)
        )
        await session.commit()
    report = await purge_inactive(
        desk.services.session_factory,
        older_than_days=365,
        actor="test",
        now=utcnow(),
        erase_tracker=rasa.erase_tracker,
    )
    assert report.counts["conversations"] == 1
    assert not await rasa.tracker_events(conversation.rasa_sender_id)


async def test_the_export_holds_every_record_erasure_removes(desk: Desk) -> None:
    conversation_id = await desk.queued("waiting-2")
    [conversation] = await desk.all(Conversation, id=conversation_id)
    async with desk.services.session_factory() as session:
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        held = await export_contact(session, contact, rasa=None)
    [record] = held["conversations"]
    # One list says what hangs off a conversation: what an erasure removes, an export shows.
    assert set(record) == {"conversation", *(name for name, _ in CONVERSATION_RECORDS)}
    assert "deliveries" in record  # what was sent to the customer is theirs too
    assert record["messages"]
