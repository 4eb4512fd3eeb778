"""Card numbers never get past intake (issue 11, finding 1), end to end and property-based.

Generated valid card numbers, written as people write them in generated surroundings, arrive
through the web chat (Socket.IO) and by SMS (a signed Twilio webhook) at a live gateway, or as
the name a customer goes by (a Telegram first and last name, a WhatsApp profile name, which
become the contact's name), and a person pastes one into a note. Whatever the example, the
card's digits are nowhere after: not in the store, not in the text the gateway sends to Rasa (a
stand-in records it), not in the log lines, and not in either export (the report export and a
customer's data on request).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.store.models import Contact, Message, Note, Role, SessionKind, utcnow
from handoff.customer_data import export_contact
from handoff.export import encode, records
from handoff.tokens import issue_token
from tests.fuzz.conftest import ThreadedGateway, gateway_in_thread
from tests.handoff.factories import make_rep
from tests.support.card_text import card_survives, messages_with_a_card
from tests.support.telegram_standin import WEBHOOK_SECRET, Updates
from tests.support.twilio_standin import TwilioWebhookSender, sms, whatsapp
from tests.support.webchat_customer import WebChatCustomer

PHONE = "+12465550177"
TELEGRAM_WEBHOOK = "/channels/telegram/webhook"
# Where a card can arrive: a message's text, or the name a new customer goes by.
CHANNELS = ["webchat", "sms", "telegram_name", "whatsapp_name"]
END_TO_END = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Lines(logging.Handler):
    """Every log line, formatted as the gateway writes them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class World:
    threaded: ThreadedGateway
    customer: WebChatCustomer
    twilio: TwilioWebhookSender
    admin_token: str
    logs: _Lines
    # Packages whose every line is kept; libraries log at the level production runs at.
    levels: dict[str, int] = field(default_factory=dict)
    telegram_updates: Updates = field(default_factory=Updates)
    # A new customer for each name tried: a contact's name is taken when it is first seen.
    new_customers: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with gateway_in_thread(Path(tmp_path_factory.mktemp("masking")), LOG_LEVEL="INFO") as threaded:
        logs = _Lines()
        logs.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(logs)  # after the app configured logging
        # The gateway's own events at every level (a library's debug lines, such as a
        # database driver's with every query parameter, are not for production).
        levels = {name: logging.getLogger(name).level for name in ("bot", "channels", "handoff")}
        for name in levels:
            logging.getLogger(name).setLevel(logging.DEBUG)

        async def start() -> tuple[WebChatCustomer, str]:
            customer = await WebChatCustomer().connect(threaded.url)
            async with threaded.gateway.services.session_factory() as session:
                admin = await make_rep(session, "masking-admin", Role.ADMIN)
                issued = await issue_token(
                    session=session, rep=admin, kind=SessionKind.API, now=utcnow()
                )
                await session.commit()
            return customer, issued.token

        customer, token = threaded.run(start())
        twilio = TwilioWebhookSender(threaded.url)
        try:
            yield World(threaded, customer, twilio, token, logs, levels)
        finally:
            threaded.run(customer.close())
            threaded.run(twilio.close())
            root.removeHandler(logs)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


async def _held(world: World) -> list[str]:
    """Every text the store holds and both exports carry."""
    services = world.threaded.gateway.services
    async with services.session_factory() as session:
        texts = list(await session.scalars(select(Message.text)))
        texts += list(await session.scalars(select(Note.text)))
        texts += [n for n in await session.scalars(select(Contact.display_name)) if n]
        for contact in await session.scalars(select(Contact)):
            held = await export_contact(session, contact, rasa=None)
            texts.append(json.dumps(held, default=str, ensure_ascii=False))
    for export_format in ("csv", "jsonl"):
        texts.append(
            "".join([p async for p in encode(export_format, records(services.session_factory))])
        )
    return texts


async def _send(world: World, channel: str, message: str) -> int:
    """Send `message` on `channel` (for a `…_name` channel: as a new customer's name, with a
    plain text) and wait until its turn is answered; its conversation id."""
    rasa = world.threaded.rasa
    before = len(rasa.received)
    if channel == "webchat":
        assert await world.customer.say(message)
    elif channel == "sms":
        response = await world.twilio.message(sms(PHONE, message))
        assert response.status_code == 200, response.text
    elif channel == "whatsapp_name":
        phone = f"+1246556{next(world.new_customers):04d}"
        response = await world.twilio.message(whatsapp(phone, "hello", profile_name=message))
        assert response.status_code == 200, response.text
    else:
        # Telegram's full name is the first and last names: the card may span them.
        first, _, last = message.partition(" ")
        person = {"id": 7_000_000 + next(world.new_customers), "is_bot": False,
                  "first_name": first or "x", "last_name": last}  # fmt: skip
        chat = {"id": person["id"], "type": "private", "first_name": person["first_name"]}
        update = world.telegram_updates.message("hello", chat=chat)
        update["message"]["from"] = person
        async with httpx.AsyncClient(base_url=world.threaded.url, timeout=30) as http:
            response = await http.post(
                TELEGRAM_WEBHOOK,
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
            )
        assert response.status_code == 200, response.text
    for _ in range(400):  # these turns run after the webhook is answered
        if len(rasa.received) > before:
            break
        await asyncio.sleep(0.025)
    assert len(rasa.received) == before + 1, "the turn never reached the assistant"
    return int(rasa.received[-1]["sender"].removeprefix("conversation-"))


@END_TO_END
@given(case=messages_with_a_card(), channel=st.sampled_from(CHANNELS))
def test_a_card_never_survives_intake_anywhere(
    world: World, case: tuple[str, str], channel: str
) -> None:
    digits, message = case
    lines_before = len(world.logs.lines)
    conversation_id = world.threaded.run(_send(world, channel, message))
    # A person pastes it into a note, through the rep API.
    assert _add_note(world, conversation_id, f"customer said: {message}") == 201

    sent_to_rasa = world.threaded.rasa.received[-1]["message"]
    assert not card_survives(digits, sent_to_rasa), sent_to_rasa
    for text in world.threaded.run(_held(world)):
        assert not card_survives(digits, text), text
    new_lines = world.logs.lines[lines_before:]
    for line in new_lines:
        assert not card_survives(digits, line), line


def _add_note(world: World, conversation_id: int, text: str) -> int:
    with httpx.Client(base_url=world.threaded.url, timeout=30) as http:
        response = http.post(
            f"/api/conversations/{conversation_id}/notes",
            json={"text": text},
            headers={"Authorization": f"Bearer {world.admin_token}"},
        )
    return response.status_code


def test_the_checks_can_see_a_card(world: World) -> None:
    """What the property test reads does hold customer text: a card it missed would show."""
    conversation_id = world.threaded.run(_send(world, "webchat", "my order CC-482913 please"))
    assert _add_note(world, conversation_id, "order CC-482913 noted") == 201
    assert "CC-482913" in world.threaded.rasa.received[-1]["message"]
    held = world.threaded.run(_held(world))
    assert sum("CC-482913" in text for text in held) >= 3  # message, note, data export
    for channel in ("telegram_name", "whatsapp_name"):
        world.threaded.run(_send(world, channel, f"Keisha Baptiste-{channel}"))
    held = world.threaded.run(_held(world))
    for channel in ("telegram_name", "whatsapp_name"):
        # contact, data export, both exports
        assert sum(f"Keisha Baptiste-{channel}" in text for text in held) >= 4, channel
    assert world.logs.lines, "no log line was captured"
