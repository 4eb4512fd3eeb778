"""A web chat customer handed to a rep: live replies, held messages, notes, rating afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.feedback import parse_score
from bot.messages import Channel, InboundMessage
from bot.store.models import (
    Conversation,
    ConversationState,
    Delivery,
    Handoff,
    Message,
    Rating,
    RatingStatus,
    WrapUp,
)
from tests.handoff.conftest import Desk
from tests.support.net import eventually
from tests.support.webchat_customer import WebChatCustomer

HANDOFF_TURN = {
    "messages": [
        {
            "custom": {
                "handoff": {"reason": "customer_request", "priority": "normal", "summary": "s"}
            }
        }
    ],
    "intent": {"name": "contact_human_agent", "confidence": 0.95},
    "slots": {"order_number": "CC-482913"},
}
WRAP_UP = {
    "nature_of_inquiry": "order_status",
    "actions_taken": "Told them",
    "follow_up_required": False,
}


@dataclass
class HandedOver:
    desk: Desk
    customer: WebChatCustomer
    conversation_id: int
    rep: dict[str, str]
    rep_id: int

    async def post(self, action: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.desk.http.post(
            f"/api/conversations/{self.conversation_id}/{action}", json=body, headers=self.rep
        )
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture
async def handed_over(desk: Desk) -> AsyncIterator[HandedOver]:
    ann = await desk.rep("ann")
    desk.rasa.reply = HANDOFF_TURN
    customer = await WebChatCustomer().connect(desk.gateway.url)
    [promise] = await customer.say("I want to talk to a person")
    assert "within 24 hours" in promise["text"]
    [conversation] = await desk.all(Conversation, address=customer.address)
    assert conversation.state == ConversationState.QUEUED
    rep = await desk.auth("ann")
    yield HandedOver(desk, customer, conversation.id, rep, ann.id)
    await customer.close()


async def test_a_rep_reply_reaches_the_web_chat_customer_and_is_logged(
    handed_over: HandedOver,
) -> None:
    h = handed_over
    await h.post("claim")
    sent = await h.post("replies", {"text": "Hi, I'm Ann. Let me check <that> for you."})
    [received] = await h.customer.receive()
    assert received == {
        "text": "Hi, I'm Ann. Let me check <that> for you.",
        "metadata": {"sender": "rep"},
    }
    message = await h.desk.get(Message, sent["message_id"])
    assert (message.sender_kind, message.rep_id) == ("rep", h.rep_id)
    assert sent["delivery_status"] == "sent"
    [delivery] = await h.desk.all(Delivery, message_id=message.id)
    assert delivery.status == "sent"
    [record] = await h.desk.all(Handoff, conversation_id=h.conversation_id)
    first = record.first_response_at
    assert first is not None and record.first_response_rep_id == h.rep_id
    await h.post("replies", {"text": "Found it."})
    [record] = await h.desk.all(Handoff, conversation_id=h.conversation_id)
    assert record.first_response_at == first  # the first response only


async def test_while_a_rep_owns_it_the_bot_is_silent_and_notes_stay_private(
    handed_over: HandedOver,
) -> None:
    h = handed_over
    await h.post("claim")
    turns_before = len(h.desk.rasa.received)
    await h.customer.client.emit(
        "user_uttered", {"message": "are you there?", "session_id": h.customer.session_id}
    )

    async def held() -> bool:
        texts = [m.text for m in await h.desk.all(Message, conversation_id=h.conversation_id)]
        return "are you there?" in texts

    await eventually(held)
    note = await h.post("notes", {"text": "Customer sounds upset; be gentle."})
    assert note["rep"]["username"] == "ann"
    assert len(h.desk.rasa.received) == turns_before
    assert h.customer.inbox.empty()
    detail = (
        await h.desk.http.get(f"/api/conversations/{h.conversation_id}", headers=h.rep)
    ).json()
    assert [n["text"] for n in detail["notes"]] == ["Customer sounds upset; be gentle."]
    assert all("upset" not in m["text"] for m in detail["transcript"])
    outbound = {d.body.get("text") for d in await h.desk.all(Delivery)}
    assert not any("upset" in (text or "") for text in outbound)


async def test_after_resolving_the_customer_rates_the_help(handed_over: HandedOver) -> None:
    h = handed_over
    await h.post("claim")
    await h.post("replies", {"text": "Your parcel arrives Friday."})
    await h.customer.receive()
    await h.post("resolve", WRAP_UP)
    [question] = await h.customer.receive()
    assert question["metadata"]["sender"] == "system"
    assert "1 (poor) to 5 (excellent)" in question["text"]
    assert [b["payload"] for b in question["quick_replies"]] == ["1", "2", "3", "4", "5"]

    turns_before = len(h.desk.rasa.received)
    [thanks] = await h.customer.say("4")
    assert "Thank you for your rating (4 out of 5)" in thanks["text"]
    assert len(h.desk.rasa.received) == turns_before  # the rating never reached the bot
    [rating] = await h.desk.all(Rating)
    [wrap_up] = await h.desk.all(WrapUp)
    assert (rating.status, rating.score, rating.rep_id, rating.wrap_up_id) == (
        RatingStatus.RATED,
        4,
        h.rep_id,
        wrap_up.id,
    )
    assert rating.conversation_id == h.conversation_id

    h.desk.rasa.reply = {
        "messages": [{"text": "Open My Orders to track it."}],
        "intent": {"name": "track_order", "confidence": 0.97},
    }
    [answer] = await h.customer.say("3")  # no rating pending any more: the bot answers
    assert answer["text"] == "Open My Orders to track it."
    assert (await h.desk.get(Conversation, h.conversation_id)).state == ConversationState.BOT


async def test_anything_but_a_rating_drops_the_question_and_goes_to_the_bot(
    handed_over: HandedOver,
) -> None:
    h = handed_over
    await h.post("claim")
    await h.post("resolve", WRAP_UP)
    await h.customer.receive()
    h.desk.rasa.reply = {
        "messages": [{"text": "Open My Orders to track it."}],
        "intent": {"name": "track_order", "confidence": 0.97},
    }
    turns_before = len(h.desk.rasa.received)
    [answer] = await h.customer.say("where is my order CC-1")
    assert answer["text"] == "Open My Orders to track it."
    assert len(h.desk.rasa.received) == turns_before + 1
    [rating] = await h.desk.all(Rating)
    assert (rating.status, rating.score) == (RatingStatus.SKIPPED, None)


async def test_a_chosen_button_counts_as_the_rating(handed_over: HandedOver) -> None:
    h = handed_over
    await h.post("claim")
    await h.post("resolve", WRAP_UP)
    await h.customer.receive()
    router = h.desk.services.router
    await router.handle(
        InboundMessage(
            channel=Channel.WEBCHAT,
            address=h.customer.address,
            text="Excellent",
            button_payload="5",
        )
    )
    [rating] = await h.desk.all(Rating)
    assert (rating.status, rating.score) == (RatingStatus.RATED, 5)


@pytest.mark.parametrize(
    ("said", "score"),
    [("1", 1), (" 5 ", 5), ("4.", 4), ("3!", 3), ("0", None), ("6", None), ("45", None),
     ("four", None), ("1 - Poor", None), ("", None)],
)  # fmt: skip
def test_what_counts_as_a_rating(said: str, score: int | None) -> None:
    assert parse_score(said) == score
