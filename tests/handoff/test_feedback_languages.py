"""A Spanish web chat customer handed to a person hears the gateway in Spanish from the first
notice to the rating; a customer in a language the assistant does not answer is told in
English and French."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import system_texts
from bot.store.models import Conversation, ConversationState, Rating
from bot.system_texts import TextKey
from tests.handoff.conftest import Desk, running_desk
from tests.support.webchat_customer import WebChatCustomer

# The deployment's own English notice; Spanish customers get the catalogue's Spanish one.
NOTICE = "Privacy: we keep this chat to help you. Ask us for a copy of your data, or to erase it."
HANDOFF_TURN = {
    "messages": [
        {
            "custom": {
                "handoff": {"reason": "customer_request", "priority": "normal", "summary": "s"}
            }
        }
    ],
    "intent": {"name": "contact_human_agent", "confidence": 0.95},
    "slots": {},
}
WRAP_UP = {
    "nature_of_inquiry": "order_status",
    "actions_taken": "Told them",
    "follow_up_required": False,
}


@pytest.fixture
async def desk_with_notice(sqlite_url: str) -> AsyncIterator[Desk]:
    async with running_desk(sqlite_url, PRIVACY_NOTICE=NOTICE) as desk:
        yield desk


async def test_a_spanish_web_chat_customer_is_answered_in_spanish_through_to_the_rating(
    desk_with_notice: Desk,
) -> None:
    desk = desk_with_notice
    await desk.rep("ann")
    desk.rasa.reply = HANDOFF_TURN
    customer = await WebChatCustomer().connect(desk.gateway.url)
    notice, promise = await customer.say("Quiero hablar con una persona, por favor", expect=2)
    assert notice["text"] == system_texts.text(TextKey.PRIVACY_NOTICE, "es")
    assert notice["text"].startswith("Privacidad: guardamos esta conversación")
    assert promise["text"] == (
        "Gracias. He pasado su consulta a nuestro equipo de soporte, y un representante le "
        "responderá aquí en un plazo de 24 horas."
    )
    [conversation] = await desk.all(Conversation, address=customer.address)
    assert (conversation.state, conversation.language) == (ConversationState.QUEUED, "es")

    [queued] = await customer.say("¿Hay alguien ahí?")
    assert queued["text"] == system_texts.text(TextKey.QUEUE_NOTICE, "es", hours=24)

    rep = await desk.auth("ann")
    base = f"/api/conversations/{conversation.id}"
    for action, body in (("claim", None), ("replies", {"text": "Hola, soy Ann."})):
        response = await desk.http.post(f"{base}/{action}", json=body, headers=rep)
        assert response.status_code < 300, response.text
    await customer.receive()
    response = await desk.http.post(f"{base}/resolve", json=WRAP_UP, headers=rep)
    assert response.status_code < 300, response.text

    [question] = await customer.receive()
    assert question["text"] == (
        "¿Cómo calificaría la ayuda que recibió hoy, de 1 (mala) a 5 (excelente)? "
        "Elija un número abajo."
    )
    assert [(b["title"], b["payload"]) for b in question["quick_replies"]] == [
        ("Mala", "1"),
        ("Regular", "2"),
        ("Buena", "3"),
        ("Muy buena", "4"),
        ("Excelente", "5"),
    ]
    [thanks] = await customer.say("4")
    assert (
        thanks["text"]
        == "Gracias por su calificación (4 de 5). Si necesita algo más, escríbanos aquí."
    )
    [rating] = await desk.all(Rating)
    assert rating.score == 4
    await customer.close()


async def test_an_english_customer_keeps_the_deployments_own_notice(
    desk_with_notice: Desk,
) -> None:
    customer = await WebChatCustomer().connect(desk_with_notice.gateway.url)
    notice, answer = await customer.say("where is my order please", expect=2)
    assert (notice["text"], answer["text"]) == (NOTICE, "Open My Orders to track it.")
    await customer.close()


async def test_a_customer_in_a_language_the_assistant_does_not_answer_is_told_in_english_and_french(
    desk: Desk,
) -> None:
    customer = await WebChatCustomer().connect(desk.gateway.url)
    [promise] = await customer.say("mi ke kansela mi order, por fabor")
    english, french = promise["text"].split("\n\n")
    assert english == system_texts.text(TextKey.HANDOFF_PROMISE, "en", hours=24)
    assert french == system_texts.text(TextKey.HANDOFF_PROMISE, "fr", hours=24)
    [conversation] = await desk.all(Conversation, address=customer.address)
    assert conversation.escalation_reason == "unsupported_language"
    assert desk.rasa.received == []  # never asked in a language it would answer wrongly
    [queued] = await customer.say("bon dia?")
    assert queued["text"] == system_texts.in_languages(TextKey.QUEUE_NOTICE, ["en", "fr"], hours=24)
    await customer.close()
