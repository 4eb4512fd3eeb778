"""Web chat identity (issue 11, finding 4): the session id is a secret the gateway issues.

A client cannot choose it: a made-up id is answered with a new one, which the customer keeps
(as Rasa's widgets do). Sessions from before keep working, since their conversation exists.
People see a label ("Web visitor 7F3A"); the secret never reaches a rep, an export, a log or
the store (which holds its hash).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.messages import Channel, InboundMessage
from bot.store.models import Contact, Conversation
from bot.webchat_address import webchat_address
from handoff.customer_data import export_contact
from handoff.export import encode, records
from handoff.packet import conversation_detail
from tests.conftest import make_settings
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.webchat_customer import WebChatCustomer

LABEL = re.compile(r"^Web visitor [0-9A-F]{4}$")


@pytest.fixture
async def live(sqlite_url: str) -> AsyncIterator[tuple[LiveGateway, RasaStandIn]]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url)) as gateway,
    ):
        yield gateway, rasa


async def test_a_made_up_session_id_is_answered_with_a_new_one(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    victim = await WebChatCustomer().connect(live[0].url)
    await victim.say("hello")
    # Someone tries ids of their own choosing, and ones near the victim's.
    for made_up in ("my-session-1", victim.session_id[:-1] + "x", "a" * 32):
        intruder = await WebChatCustomer(session_id=made_up).connect(live[0].url)
        assert intruder.session_id != made_up
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", intruder.session_id)
        await intruder.close()
    # A message naming an id this socket was not confirmed, and no gateway issued, is refused.
    other = await WebChatCustomer().connect(live[0].url)
    await other.client.emit("user_uttered", {"message": "hi", "session_id": "chosen-by-me"})
    error = await asyncio.wait_for(other.errors.get(), 5)
    assert "session_request" in error["message"]
    await other.close()
    await victim.close()
    async with live[0].services.session_factory() as session:
        addresses = list(await session.scalars(select(Conversation.address)))
    assert addresses == [victim.address]


async def test_a_session_from_before_ids_were_issued_keeps_working(
    live: tuple[LiveGateway, RasaStandIn],
) -> None:
    gateway = live[0]
    # A conversation a widget started with an id of its own, before the gateway issued them.
    await gateway.services.router.handle(
        InboundMessage(
            channel=Channel.WEBCHAT, address=webchat_address("3f2b9c1e-legacy"), text="hello"
        )
    )
    customer = await WebChatCustomer(session_id="3f2b9c1e-legacy").connect(gateway.url)
    assert customer.session_id == "3f2b9c1e-legacy"
    assert await customer.say("me again")
    await customer.close()
    async with gateway.services.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1


async def test_people_see_a_label_never_the_session_id(
    live: tuple[LiveGateway, RasaStandIn], caplog: pytest.LogCaptureFixture, sqlite_url: str
) -> None:
    gateway = live[0]
    store_path = Path(sqlite_url.removeprefix("sqlite:///"))
    logging.getLogger().addHandler(caplog.handler)  # the app reconfigured logging
    # The gateway's own events at every level; libraries at the level production runs at
    # (a database driver's debug lines carry every query parameter, customer texts included).
    caplog.set_level(logging.INFO)
    for name in ("bot", "channels", "handoff"):
        caplog.set_level(logging.DEBUG, logger=name)
    customer = await WebChatCustomer().connect(gateway.url)
    secret = customer.session_id
    assert secret is not None
    await customer.say("hello")
    await customer.client.emit("user_uttered", {"message": "x" * 5000, "session_id": secret})
    await asyncio.wait_for(customer.errors.get(), 5)
    await customer.close()
    async with gateway.services.session_factory() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None and conversation.address == webchat_address(secret)
        detail = await conversation_detail(session=session, conversation_id=conversation.id)
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        held = await export_contact(session, contact, rasa=None)
    exports = {
        export_format: "".join(
            [p async for p in encode(export_format, records(gateway.services.session_factory))]
        )
        for export_format in ("csv", "jsonl")
    }
    # Not in what a rep sees (the API and the console render this), the exports or the logs.
    assert secret not in detail.model_dump_json()
    assert secret not in json.dumps(held, default=str)
    for exported in exports.values():
        assert secret not in exported
    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert secret not in caplog.text
    logging.getLogger().removeHandler(caplog.handler)
    # Nor in the store itself, its journal included: a copy of the database hands out nothing.
    stored = b"".join(path.read_bytes() for path in store_path.parent.glob(store_path.name + "*"))
    assert webchat_address(secret).encode() in stored  # the check reads what the store holds
    assert secret.encode() not in stored
    # What they see instead.
    label = detail.address
    assert LABEL.match(label)
    assert detail.summary.customer == label
    assert all(label in exported for exported in exports.values())
