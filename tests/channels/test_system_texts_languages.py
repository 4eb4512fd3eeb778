"""The gateway's own texts reach each channel's customers in their conversation's language,
through the real paths: Twilio's and Telegram's own clients against their stand-ins, a
Socket.IO client for web chat. English customers keep getting the English texts (the other
channel tests)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot import system_texts
from bot.store.models import Conversation
from bot.system_texts import TextKey
from channels.telegram.buttons import KEY_PREFIX
from channels.telegram.intake import greeting_text
from tests.conftest import make_settings
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import running_rasa_standin
from tests.support.telegram_standin import CUSTOMER as TELEGRAM_CUSTOMER
from tests.support.telegram_standin import TelegramHarness, running_telegram_gateway
from tests.support.twilio_standin import SMS_NUMBER, running_twilio_gateway, sms
from tests.support.webchat_customer import WebChatCustomer

PHONE = "+50937001234"
FRENCH = "bonjour, je voudrais savoir où en est ma commande"
SPANISH = "hola, quisiera saber dónde está mi pedido por favor"
ANSWER = "Open My Orders to track it."  # the Rasa stand-in's answer


def said(key: TextKey, language: str, **values: Any) -> str:
    return system_texts.text(key, language, **values)


async def test_a_french_sms_customer_gets_choices_help_start_and_notices_in_french(
    sqlite_url: str,
) -> None:
    async with running_twilio_gateway(sqlite_url) as h:
        await h.twilio.message(sms(PHONE, FRENCH))
        [answer] = await h.api.wait_for(PHONE)
        # The "did this help?" choices, as numbered lines in French.
        assert answer["Body"] == (f"{ANSWER}\n\nRépondez 1 pour Oui, merci\nRépondez 2 pour Non")
        assert (await h.one(Conversation)).language == "fr"

        await h.twilio.message(sms(PHONE, "HELP"))
        [_, help_answer] = await h.api.wait_for(PHONE, 2)
        assert help_answer["Body"].startswith("Assistance Caricom Connects : posez votre question")
        assert f"par SMS au {SMS_NUMBER}" in help_answer["Body"]
        assert "dans un délai de 24 heures" in help_answer["Body"]
        assert "Répondez STOP" in help_answer["Body"]

        await h.twilio.message(sms(PHONE, "STOP"))
        await h.twilio.message(sms(PHONE, "START"))
        [*_, resubscribed] = await h.api.wait_for(PHONE, 3)
        assert resubscribed["Body"] == said(TextKey.KEYWORD_RESUBSCRIBED, "fr")

        photo = sms(
            PHONE,
            "",
            NumMedia="1",
            MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            MediaContentType0="image/jpeg",
        )
        await h.twilio.message(photo)
        [*_, notice] = await h.api.wait_for(PHONE, 4)
        assert notice["Body"] == said(TextKey.ATTACHMENT_NOTICE, "fr")
        assert notice["Body"].startswith("Merci. Je ne peux lire que du texte")


async def _sent(live: TelegramHarness, count: int) -> list[dict[str, Any]]:
    await eventually(lambda: len(live.telegram.sent_to(TELEGRAM_CUSTOMER["id"])) >= count)
    return live.telegram.sent_to(TELEGRAM_CUSTOMER["id"])


async def test_a_spanish_telegram_customer_gets_buttons_and_greeting_in_spanish(
    sqlite_url: str,
) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as live,
    ):
        await live.post(live.updates.message(SPANISH))
        [answer] = await _sent(live, 1)
        assert answer["text"] == ANSWER
        titles = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
        assert titles == ["Sí, gracias", "No"]

        await live.post(live.updates.message("/start"))
        [_, greeting] = await _sent(live, 2)
        assert greeting["text"] == greeting_text(24, "es")
        assert greeting["text"].startswith("¡Hola! Soy el asistente de Caricom Connects")


async def test_a_new_telegram_customer_is_greeted_in_their_apps_language(
    sqlite_url: str,
) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as live,
    ):
        start = live.updates.message("/start")
        start["message"]["from"] = {**TELEGRAM_CUSTOMER, "language_code": "nl"}
        await live.post(start)
        [greeting] = await _sent(live, 1)
        assert greeting["text"] == greeting_text(24, "nl")
        assert greeting["text"].startswith("Hallo, ik ben de assistent van Caricom Connects")


async def test_a_telegram_button_too_old_to_find_is_answered_in_the_apps_language(
    sqlite_url: str,
) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as live,
    ):
        old = {
            "message_id": 9,
            "date": 0,
            "chat": {"id": TELEGRAM_CUSTOMER["id"], "type": "private"},
        }
        press = live.updates.button_press(old, KEY_PREFIX + "no-such-key")
        press["callback_query"]["from"] = {**TELEGRAM_CUSTOMER, "language_code": "ht"}
        await live.post(press)
        await eventually(lambda: live.telegram.calls_to("answerCallbackQuery"))
        [answer] = live.telegram.calls_to("answerCallbackQuery")
        assert (
            answer.params["text"] == "Bouton sa a pa disponib ankò. Tanpri ekri kesyon ou a pito."
        )


async def _error(customer: WebChatCustomer) -> str:
    error = await asyncio.wait_for(customer.errors.get(), 5)
    return str(error["message"])


async def test_web_chat_errors_are_in_the_browsers_language(sqlite_url: str) -> None:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(sqlite_url, rasa.url, MAX_MESSAGE_CHARS=100)) as gateway,
    ):
        # The widget says the browser's language with each message.
        customer = await WebChatCustomer().connect(gateway.url)
        await customer.client.emit(
            "user_uttered",
            {
                "message": "x" * 150,
                "session_id": customer.session_id,
                "metadata": {"language": "es"},
            },
        )
        assert await _error(customer) == said(
            TextKey.WEBCHAT_TOO_LONG, "es", chars=150, max_chars=100
        )
        await customer.close()

        # Another client: only its Accept-Language header.
        dutch = WebChatCustomer()
        await dutch.client.connect(
            gateway.url, transports=["websocket"], headers={"Accept-Language": "nl-SR,nl;q=0.9"}
        )
        await dutch.client.emit("session_request", {"session_id": None})
        dutch.session_id = await asyncio.wait_for(dutch.confirmed.get(), 5)
        await dutch.client.emit(
            "user_uttered", {"message": "y" * 101, "session_id": dutch.session_id}
        )
        assert await _error(dutch) == (
            "Uw bericht is te lang (101 tekens). Houd het onder de 100 tekens, of stuur het in "
            "delen."
        )
        await dutch.close()

        # No language known: English, as before.
        english = await WebChatCustomer().connect(gateway.url)
        await english.client.emit(
            "user_uttered", {"message": "z" * 2000, "session_id": english.session_id}
        )
        assert "too long (2,000 characters)" in await _error(english)
        await english.close()
