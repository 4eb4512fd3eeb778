"""Episodes written as conversations happen: the gateway with a stand-in of Rasa's API, the rep
API, the SLA monitor's job, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.episodes import close_quiet_episodes
from bot.faq_feedback import feedback_payload
from bot.messages import Channel, InboundMessage
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Conversation, Episode, EpisodeOutcome, Role, utcnow
from handoff.monitor import SlaMonitor
from tests.handoff.conftest import Desk

QUIET = timedelta(hours=24)


def said(intent: str, text: str = "An answer.") -> dict[str, Any]:
    return {
        "messages": [{"text": text}],
        "intent": {"name": intent, "confidence": 0.95},
        "entities": [],
        "slots": {},
    }


async def write(desk: Desk, text: str, *, intent: str | None = None, address: str = "v1") -> int:
    """The customer writes on web chat; the stand-in answers with `intent`."""
    if intent is not None:
        desk.rasa.reply = said(intent)
    received = await desk.services.router.handle(
        InboundMessage(channel=Channel.WEBCHAT, address=address, text=text)
    )
    assert received is not None
    return int(received.conversation_id)


async def episodes(desk: Desk, conversation_id: int) -> list[Episode]:
    return list(await desk.all(Episode, conversation_id=conversation_id))


async def tick_later(desk: Desk, later: timedelta) -> int:
    """One run of the monitor as if `later` had passed; how many episodes it closed."""
    when = utcnow() + later
    monitor = SlaMonitor(desk.services.session_factory, clock=lambda: when, episode_quiet=QUIET)
    report = await monitor.tick()
    assert report.ran
    return report.closed_episodes


async def test_each_episode_has_its_own_nature_of_inquiry_and_outcome(
    desk_on_each_store: Desk,
) -> None:
    desk = desk_on_each_store
    conversation_id = await write(desk, "hi", intent="greet")
    await write(desk, "where is my order", intent="track_order")
    await write(desk, feedback_payload("track_order", helpful=True))
    [first] = await episodes(desk, conversation_id)
    assert (first.nature_of_inquiry, first.helped, first.outcome, first.closed_at) == (
        "track_order",
        True,
        EpisodeOutcome.OPEN,
        None,
    )
    assert await tick_later(desk, timedelta(hours=1)) == 0  # not quiet long enough
    assert await tick_later(desk, timedelta(hours=25)) == 1
    assert await tick_later(desk, timedelta(hours=26)) == 0  # closed once
    [first] = await episodes(desk, conversation_id)
    assert first.outcome == EpisodeOutcome.ANSWERED and first.closed_at is not None

    # The same conversation, a new question: a new episode with its own topic, and the
    # conversation no longer says track_order.
    await write(desk, "I want my money back", intent="get_refund")
    first, second = await episodes(desk, conversation_id)
    assert second.nature_of_inquiry == "get_refund" and second.closed_at is None
    assert first.nature_of_inquiry == "track_order"
    conversation = await desk.get(Conversation, conversation_id)
    assert conversation.nature_of_inquiry == "get_refund"


async def test_a_fallback_the_customer_leaves_after_is_abandoned(desk_on_each_store: Desk) -> None:
    desk = desk_on_each_store
    conversation_id = await write(desk, "asdf qwerty", intent="nlu_fallback")
    assert await tick_later(desk, timedelta(hours=25)) == 1
    [episode] = await episodes(desk, conversation_id)
    assert (episode.outcome, episode.ended_on_fallback, episode.nature_of_inquiry) == (
        EpisodeOutcome.ABANDONED,
        True,
        None,
    )


async def test_small_talk_only_is_no_inquiry(desk_on_each_store: Desk) -> None:
    desk = desk_on_each_store
    conversation_id = await write(desk, "hello", intent="greet")
    await write(desk, "bye", intent="goodbye")
    assert await tick_later(desk, timedelta(hours=25)) == 1
    [episode] = await episodes(desk, conversation_id)
    assert episode.outcome == EpisodeOutcome.NO_INQUIRY


async def test_asking_the_same_topic_again_marks_the_episode_came_back(
    desk_on_each_store: Desk,
) -> None:
    desk = desk_on_each_store
    conversation_id = await write(desk, "where is my order", intent="track_order")
    [episode] = await episodes(desk, conversation_id)
    assert episode.came_back_at is None
    await write(desk, "how do I change my address", intent="change_shipping_address")
    [episode] = await episodes(desk, conversation_id)
    assert episode.came_back_at is None  # another topic is not coming back
    await write(desk, "my order still hasn't come", intent="track_order")
    [episode] = await episodes(desk, conversation_id)
    assert episode.came_back_at is not None and episode.nature_of_inquiry == "track_order"


async def test_a_handoff_episode_ends_with_its_wrap_up_and_is_exported(
    desk_on_each_store: Desk,
) -> None:
    desk = desk_on_each_store
    await desk.rep("ann")
    await desk.rep("sue", Role.SUPERVISOR)
    conversation_id = await write(desk, "where is my refund", intent="track_refund")
    desk.rasa.reply = {
        "messages": [{"custom": {"handoff": {"reason": "customer_request", "priority": "normal"}}}],
        "intent": {"name": "contact_human_agent", "confidence": 0.99},
        "entities": [],
        "slots": {},
    }
    await write(desk, "agent please")
    [episode] = await episodes(desk, conversation_id)
    assert (episode.outcome, episode.handoff_reason, episode.nature_of_inquiry) == (
        EpisodeOutcome.HANDED_OFF,
        "customer_request",
        "track_refund",
    )
    # A handoff is not closed by a quiet period (only its resolution closes it).
    later = utcnow() + timedelta(hours=48)
    assert await close_quiet_episodes(desk.services.session_factory, now=later, quiet=QUIET) == 0
    headers = await desk.auth("ann")
    claimed = await desk.http.post(f"/api/conversations/{conversation_id}/claim", headers=headers)
    assert claimed.status_code == 200, claimed.text
    wrap = {
        "nature_of_inquiry": "refund status",
        "actions_taken": "checked the refund, it left yesterday",
        "follow_up_required": False,
    }
    resolved = await desk.http.post(
        f"/api/conversations/{conversation_id}/resolve", json=wrap, headers=headers
    )
    assert resolved.status_code == 200, resolved.text
    [episode] = await episodes(desk, conversation_id)
    assert episode.closed_at is not None and episode.wrap_up_id is not None

    # The customer writes again: a new bot episode.
    await write(desk, "how do I get an invoice", intent="get_invoice")
    handed, again = await episodes(desk, conversation_id)
    assert again.nature_of_inquiry == "get_invoice" and again.handoff_requested_at is None

    response = await desk.http.get(
        "/api/export", params={"kind": "episodes"}, headers=await desk.auth("sue")
    )
    assert response.status_code == 200, response.text
    assert 'filename="episodes-' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["episode_id"], r["nature_of_inquiry"], r["outcome"]) for r in rows] == [
        (str(handed.id), "track_refund", "handed_off"),
        (str(again.id), "get_invoice", "open"),
    ]
    assert rows[0]["handoff_reason"] == "customer_request"
    assert rows[0]["rep"] == "ann" and rows[0]["wrap_up_nature_of_inquiry"] == "refund status"
    assert rows[0]["actions_taken"] == "checked the refund, it left yesterday"
    assert rows[0]["resolved_at"] != "" and rows[1]["closed_at"] == ""
    # The per-conversation export is as it was: one row for the conversation.
    old = await desk.http.get("/api/export", headers=await desk.auth("sue"))
    assert len(list(csv.DictReader(io.StringIO(old.text)))) == 1
    assert "episode_id" not in old.text.splitlines()[0]


async def test_two_instances_closing_at_once_close_each_episode_once(
    desk_on_each_store: Desk,
) -> None:
    desk = desk_on_each_store
    for n in range(5):
        await write(desk, "where is my order", intent="track_order", address=f"v{n}")
    # A second gateway's connection pool on the same store, both closing at the same moment.
    other_engine = create_engine(desk.services.settings.DATABASE_URL)
    other = create_session_factory(other_engine)
    later = utcnow() + timedelta(hours=25)
    try:
        closed = await asyncio.gather(
            close_quiet_episodes(desk.services.session_factory, now=later, quiet=QUIET),
            close_quiet_episodes(other, now=later, quiet=QUIET),
        )
    finally:
        await other_engine.dispose()
    assert sum(closed) == 5
    async with desk.services.session_factory() as session:
        rows = list(await session.scalars(select(Episode)))
    assert len(rows) == 5 and all(e.outcome == EpisodeOutcome.ANSWERED for e in rows)


async def test_a_message_after_the_quiet_period_starts_a_new_episode_before_the_job_runs(
    desk_on_each_store: Desk,
) -> None:
    desk = desk_on_each_store
    conversation_id = await write(desk, "where is my order", intent="track_order")
    # Pretend the first message was two days ago and the monitor has not come round.
    async with desk.services.session_factory() as session, session.begin():
        episode = (await session.scalars(select(Episode))).one()
        episode.last_activity_at = utcnow() - timedelta(days=2)
    await write(desk, "I want a refund", intent="get_refund")
    first, second = await episodes(desk, conversation_id)
    assert first.closed_at is not None and first.outcome == EpisodeOutcome.ANSWERED
    assert second.closed_at is None and second.nature_of_inquiry == "get_refund"
