"""The privacy notice (issue 11, finding 12): once per customer and channel, before any answer,
its text from the settings."""

from __future__ import annotations

import asyncio

from bot.settings import DEFAULT_PRIVACY_NOTICE, Settings
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.rasa_standin import running_rasa_standin
from tests.support.twilio_standin import running_twilio_gateway, sms, whatsapp
from tests.support.webchat_customer import WebChatCustomer

NOTICE = "Privacy: we keep this chat to help you. Ask us for a copy of your data, or to erase it."
ANSWER = "Open My Orders to track it."
PHONE = "+12465550188"


def test_a_deployment_gets_a_notice_unless_it_sets_its_own() -> None:
    assert Settings(_env_file=None).PRIVACY_NOTICE == DEFAULT_PRIVACY_NOTICE  # type: ignore[call-arg]
    assert "erase" in DEFAULT_PRIVACY_NOTICE and len(DEFAULT_PRIVACY_NOTICE) <= 320  # two SMS


async def test_a_web_chat_customer_gets_the_notice_once_before_the_first_answer(
    sqlite_url: str,
) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url, PRIVACY_NOTICE=NOTICE)) as gateway,
    ):
        customer = await WebChatCustomer().connect(gateway.url)
        first = await customer.say("hello", expect=2)
        assert [(r["metadata"]["sender"], r["text"]) for r in first] == [
            ("system", NOTICE),
            ("bot", ANSWER),
        ]
        again = await customer.say("where is my order")
        assert [r["text"] for r in again] == [ANSWER]
        await customer.close()
        # Back after a reload: the same customer on the same channel, no second notice.
        back = await WebChatCustomer(session_id=customer.session_id).connect(gateway.url)
        assert [r["text"] for r in await back.say("me again")] == [ANSWER]
        await back.close()
        # Someone else is told too.
        other = await WebChatCustomer().connect(gateway.url)
        assert [r["text"] for r in await other.say("hi", expect=2)] == [NOTICE, ANSWER]
        await other.close()


async def test_one_phone_gets_the_notice_once_on_sms_and_once_on_whatsapp(
    sqlite_url: str,
) -> None:
    async with running_twilio_gateway(sqlite_url, PRIVACY_NOTICE=NOTICE) as harness:
        for n in range(2):
            assert (await harness.twilio.message(sms(PHONE, f"hello {n}"))).status_code == 200
            await harness.api.wait_for(PHONE, n + 2)
        # Each answer's first line (SMS adds the "did this help?" choices below it).
        texts = [m["Body"].split("\n")[0] for m in await harness.api.wait_for(PHONE, 3)]
        assert texts == [NOTICE, ANSWER, ANSWER]
        for n in range(2):
            response = await harness.twilio.message(whatsapp(PHONE, f"hello again {n}"))
            assert response.status_code == 200
        on_whatsapp = [
            m["Body"].split("\n")[0] for m in await harness.api.wait_for(f"whatsapp:{PHONE}", 3)
        ]
        assert on_whatsapp == [NOTICE, ANSWER, ANSWER]
        await asyncio.sleep(0.3)
        assert len(harness.api.sent_to(PHONE)) == 3
        assert len(harness.api.sent_to(f"whatsapp:{PHONE}")) == 3


async def test_an_empty_notice_sends_none(sqlite_url: str) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url, PRIVACY_NOTICE="")) as gateway,
    ):
        customer = await WebChatCustomer().connect(gateway.url)
        assert [r["text"] for r in await customer.say("hello")] == [ANSWER]
        await customer.close()
