"""A Telegram customer handed to a rep: the reply and the rating question go out through the
Bot API (a local stand-in), and pressing an inline button is the rating."""

from __future__ import annotations

import httpx

from bot.store.models import Conversation, ConversationState, Rating, RatingStatus
from tests.handoff.factories import PASSWORD, make_rep
from tests.handoff.test_replies_and_feedback import HANDOFF_TURN, WRAP_UP
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import CUSTOMER, running_telegram_gateway


async def test_a_rep_reply_and_the_rating_on_telegram(sqlite_url: str) -> None:
    async with (
        running_rasa_standin(RasaStandIn(reply=HANDOFF_TURN)) as rasa,
        running_telegram_gateway(sqlite_url, rasa.url) as h,
    ):
        chat = CUSTOMER["id"]
        assert (await h.post(h.updates.message("I need a person"))).status_code == 200
        conversation = await eventually(lambda: _queued(h.rows(Conversation)), timeout=10)
        async with h.gateway.services.session_factory() as session:
            await make_rep(session, "ann")
        async with httpx.AsyncClient(base_url=h.gateway.url, timeout=30) as api:
            login = await api.post(
                "/api/auth/login", json={"username": "ann", "password": PASSWORD}
            )
            rep = {"Authorization": f"Bearer {login.json()['access_token']}"}
            base = f"/api/conversations/{conversation.id}"
            assert (await api.post(f"{base}/claim", headers=rep)).status_code == 200
            sent = await api.post(f"{base}/replies", json={"text": "Hello from Ann"}, headers=rep)
            assert sent.json()["delivery_status"] == "sent"
            # Telegram shows no sender: the rep's name says a person wrote it.
            assert h.telegram.sent_to(chat)[-1]["text"] == "Ann (Caricom Connects): Hello from Ann"

            assert (await api.post(f"{base}/resolve", json=WRAP_UP, headers=rep)).status_code == 200
            question = await eventually(lambda: _last_with_keyboard(h.telegram.sent_to(chat)))
            buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
            assert [b["text"] for b in buttons] == [
                "Poor",
                "Fair",
                "Good",
                "Very good",
                "Excellent",
            ]
            await h.post(h.updates.button_press(question, buttons[3]["callback_data"]))
            [rating] = await eventually(lambda: h.rows(Rating, status=RatingStatus.RATED))
            assert rating.score == 4
            assert "4 out of 5" in h.telegram.sent_to(chat)[-1]["text"]


async def _queued(rows: object) -> Conversation | None:
    found = await rows  # type: ignore[misc]
    return next((c for c in found if c.state == ConversationState.QUEUED), None)


def _last_with_keyboard(messages: list[dict[str, object]]) -> dict[str, object] | None:
    last = messages[-1] if messages else None
    return last if last and "reply_markup" in last else None
