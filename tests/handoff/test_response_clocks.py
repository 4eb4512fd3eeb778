"""Every reply on the clock: first, next and resolution windows in business time; a reply
counts once the channel accepted it; the customer is told when a closed team is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import socketio
import yaml  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.business_hours import BusinessHours, TeamHours, weekly_from_names
from bot.business_hours_file import BusinessHoursError
from bot.handoff_reasons import HandoffReason
from bot.messages import Channel, InboundMessage
from bot.policy import ResponseTargets, promise_text, queue_notice_text
from bot.reopening import describe_opening
from bot.response_clock import ResponseClock
from bot.response_windows import open_next_window
from bot.store.db import create_engine, create_session_factory
from bot.store.models import (
    Conversation,
    ConversationState,
    DeliveryStatus,
    Handoff,
    Message,
    ResponseKind,
    ResponseWindow,
    utcnow,
)
from gateway.services import build_services
from handoff.monitor import SlaMonitor
from handoff.queue import claim
from tests.conftest import make_settings
from tests.handoff.factories import add_customer_message, add_rep_reply, make_queued, make_rep
from tests.support.gateway import running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import running_rasa_standin

JAMAICA = ZoneInfo("America/Jamaica")
KINGSTON = BusinessHours(
    JAMAICA,
    weekly_from_names(
        {d: ["08:00-18:00"] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    ),
    frozenset({date(2026, 4, 3), date(2026, 4, 6)}),  # Good Friday, Easter Monday
)
CLOCK = ResponseClock(
    hours=TeamHours({"general": KINGSTON}),
    first_response=ResponseTargets.from_hours(urgent=1, high=4, normal=8, low=16),
    next_response=timedelta(hours=2),
    resolution=timedelta(hours=20),
    at_risk_fraction=0.75,
)


def kingston(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAMAICA)


FRIDAY_4PM = kingston("2026-03-06 16:00")


@dataclass
class MovableClock:
    now: datetime = FRIDAY_4PM

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]
    time: MovableClock = field(default_factory=MovableClock)

    def monitor(self, holder: str = "gateway-a") -> SlaMonitor:
        return SlaMonitor(self.sessions, clock=self.time, holder=holder, response_clock=CLOCK)

    async def queued(self, address: str, priority: str = "high") -> int:
        async with self.sessions() as session:
            conversation = await make_queued(
                session, address=address, priority=priority, now=self.time.now, clock=CLOCK
            )
            return conversation.id

    async def windows(self, conversation_id: int) -> list[ResponseWindow]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(ResponseWindow)
                    .where(ResponseWindow.conversation_id == conversation_id)
                    .order_by(ResponseWindow.id)
                )
            )

    async def state(self, conversation_id: int) -> ConversationState:
        async with self.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            return conversation.state


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    yield Store(create_session_factory(engine))
    await engine.dispose()


async def test_a_friday_afternoon_handoff_is_due_on_monday_and_not_marked_over_the_weekend(
    store: Store,
) -> None:
    conversation_id = await store.queued("customer-1", priority="high")  # 4 business hours
    monitor = store.monitor()
    assert (await monitor.tick()).marks == []
    [first] = await store.windows(conversation_id)
    assert first.kind == ResponseKind.FIRST
    assert first.due_at == kingston("2026-03-09 10:00")
    assert first.at_risk_after == kingston("2026-03-09 09:00")  # 3 of the 4 business hours
    async with store.sessions() as session:
        [record] = await session.scalars(select(Handoff))
        assert record.team == "general"
        assert record.due_at == first.due_at
        # 20 business hours: Friday's two, Monday's ten, Tuesday's eight.
        assert record.resolution_due_at == kingston("2026-03-10 16:00")

    for when in ("2026-03-07 12:00", "2026-03-08 23:59", "2026-03-09 08:59"):
        store.time.now = kingston(when)
        assert (await monitor.tick()).marks == [], when
    store.time.now = kingston("2026-03-09 09:00")
    [at_risk] = (await monitor.tick()).marks
    assert (at_risk.kind, at_risk.window) == ("at_risk", ResponseKind.FIRST)
    store.time.now = kingston("2026-03-09 10:00")
    [breached] = (await monitor.tick()).marks
    assert (breached.kind, breached.escalated) == ("breached", True)
    assert await store.state(conversation_id) == ConversationState.ESCALATED


async def test_a_reply_counts_when_the_channel_accepted_it_not_when_it_was_written(
    store: Store,
) -> None:
    conversation_id = await store.queued("customer-1", priority="high")
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
        await claim(session=session, conversation_id=conversation_id, rep=ann, now=FRIDAY_4PM)
        # Written at 16:30, but the channel has not taken it (retrying): the clock runs on.
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-06 16:30"),
            status=DeliveryStatus.PENDING,
        )
        # A second reply failed for good: it never reached the customer either.
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-06 16:40"),
            status=DeliveryStatus.FAILED,
        )
    monitor = store.monitor()
    store.time.now = kingston("2026-03-09 09:00")
    assert [m.kind for m in (await monitor.tick()).marks] == ["at_risk"]

    async with store.sessions() as session:
        # Accepted by the channel on Monday at 09:30 (the retry went out then).
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-09 09:20"),
            accepted_at=kingston("2026-03-09 09:30"),
        )
    store.time.now = kingston("2026-03-09 11:00")  # past the due time: but answered before it
    assert (await monitor.tick()).marks == []
    [first] = await store.windows(conversation_id)
    assert first.answered_at == kingston("2026-03-09 09:30")
    assert first.business_seconds == timedelta(hours=3, minutes=30).total_seconds()
    assert first.breached_at is None
    assert await store.state(conversation_id) == ConversationState.ASSIGNED


async def test_each_customer_message_to_a_person_opens_a_next_response_window(
    store: Store,
) -> None:
    conversation_id = await store.queued("customer-1", priority="high")
    monitor = store.monitor()
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
        await claim(session=session, conversation_id=conversation_id, rep=ann, now=FRIDAY_4PM)
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-06 16:05"),
            accepted_at=kingston("2026-03-06 16:05"),
        )
    store.time.now = kingston("2026-03-06 16:10")
    await monitor.tick()

    async def customer_writes(at: str) -> ResponseWindow | None:
        async with store.sessions() as session, session.begin():
            message = await add_customer_message(session, conversation_id, at=kingston(at))
        async with store.sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            message = await session.get(Message, message.id)  # type: ignore[assignment]
            assert conversation is not None and message is not None
            return await open_next_window(session, conversation, message, CLOCK, message.created_at)

    opened = await customer_writes("2026-03-06 17:30")
    assert opened is not None
    # While it runs, a second message starts no second window: one reply answers both.
    assert await customer_writes("2026-03-06 17:45") is None
    [first, following] = await store.windows(conversation_id)
    assert first.answered_at == kingston("2026-03-06 16:05")
    assert (following.kind, following.opened_at) == (
        ResponseKind.NEXT,
        kingston("2026-03-06 17:30"),
    )
    assert following.due_at == kingston("2026-03-09 09:30")  # 30 minutes Friday, 90 Monday

    async with store.sessions() as session:
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-09 08:10"),
            accepted_at=kingston("2026-03-09 08:15"),
        )
    store.time.now = kingston("2026-03-09 12:00")
    assert (await monitor.tick()).marks == []
    [_, following] = await store.windows(conversation_id)
    assert following.answered_at == kingston("2026-03-09 08:15")
    assert following.business_seconds == timedelta(minutes=45).total_seconds()

    # The next message goes unanswered: its window breaches and the supervisors get it.
    await customer_writes("2026-03-09 12:00")
    store.time.now = kingston("2026-03-09 13:30")
    [at_risk] = (await monitor.tick()).marks
    assert (at_risk.kind, at_risk.window) == ("at_risk", ResponseKind.NEXT)
    store.time.now = kingston("2026-03-09 14:00")
    [breached] = (await monitor.tick()).marks
    assert (breached.kind, breached.window, breached.escalated) == (
        "breached",
        ResponseKind.NEXT,
        True,
    )


def test_the_clock_says_when_a_closed_team_is_back() -> None:
    # Thursday evening before Easter: Good Friday and Easter Monday are holidays.
    back = CLOCK.back_at("general", kingston("2026-04-02 19:00"))
    assert back is not None and describe_opening(back) == "Tuesday 7 April at 08:00 (Jamaica time)"
    assert CLOCK.back_at("general", kingston("2026-04-02 10:00")) is None  # open: nothing said


def _closed_now_hours_file(tmp_path: Path) -> tuple[Path, datetime]:
    """A team open only on Mondays, with every Monday a holiday until one at least three weeks
    away: closed whenever the test runs, back at a known time."""
    today = utcnow().astimezone(JAMAICA).date()
    reopening = today + timedelta(days=21 + (7 - today.weekday()) % 7)
    holidays = [today - timedelta(days=7) + timedelta(days=n) for n in range(0, 35)]
    holidays = [d for d in holidays if d < reopening]
    path = tmp_path / "business_hours.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "teams": {
                    "general": {
                        "timezone": "America/Jamaica",
                        "hours": {"monday": ["08:00-18:00"]},
                        "holidays": [d.isoformat() for d in holidays],
                    }
                }
            }
        )
    )
    return path, datetime.combine(reopening, datetime.min.time().replace(hour=8), JAMAICA)


async def test_through_the_router_texts_say_when_a_person_is_back_and_messages_open_windows(
    database_url: str, tmp_path: Path
) -> None:
    hours_file, reopening = _closed_now_hours_file(tmp_path)
    back = f"Our team is away just now; a person will be back on {describe_opening(reopening)}."
    async with (
        running_rasa_standin() as rasa,
        running_gateway(
            make_settings(
                database_url,
                rasa.url,
                BUSINESS_HOURS_FILE=str(hours_file),
                SLA_NEXT_RESPONSE_HOURS=2,
            )
        ) as gateway,
    ):
        rasa.reply = {
            "messages": [
                {"custom": {"handoff": {"reason": "customer_request", "priority": "normal"}}}
            ],
            "intent": {"name": "contact_human_agent", "confidence": 0.99},
        }
        router = gateway.services.router
        sessions = gateway.services.session_factory

        def chat(text: str) -> InboundMessage:
            return InboundMessage(channel=Channel.WEBCHAT, address="visitor-1", text=text)

        await router.handle(chat("agent please"))
        await router.handle(chat("hello??"))
        async with sessions() as session:
            conversation = await session.scalar(select(Conversation))
            assert conversation is not None
            texts = list(
                await session.scalars(
                    select(Message.text).where(Message.sender_kind == "system").order_by(Message.id)
                )
            )
            # The promise stays 24 hours; the closed team's return is said with it.
            assert len(texts) == 2
            assert "within 24 hours" in texts[0] and texts[0].endswith(back)
            assert texts[1].startswith("Thanks, I've added this") and texts[1].endswith(back)
            ann = await make_rep(session, "ann")
            await claim(session=session, conversation_id=conversation.id, rep=ann)

        await router.handle(chat("are you there?"))  # a person owns it now

        async def next_windows() -> list[ResponseWindow]:
            async with sessions() as session:
                return list(
                    await session.scalars(
                        select(ResponseWindow).where(ResponseWindow.kind == ResponseKind.NEXT)
                    )
                )

        # The message may be routed by the gateway's own loop rather than this call: wait for it.
        [window] = await eventually(next_windows, timeout=30)
        async with sessions() as session:
            message = await session.get(Message, window.opened_by_message_id)
            assert message is not None and message.text == "are you there?"
            assert window.kind == ResponseKind.NEXT
            # Two business hours from a closed moment: Monday 10:00 of the reopening.
            assert window.due_at == reopening + timedelta(hours=2)


async def test_a_window_the_resolution_closed_is_not_answered_by_a_later_handoff(
    store: Store,
) -> None:
    conversation_id = await store.queued("customer-1", priority="high")
    monitor = store.monitor()
    async with store.sessions() as session:
        ann = await make_rep(session, "ann")
        await claim(session=session, conversation_id=conversation_id, rep=ann, now=FRIDAY_4PM)
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-06 16:05"),
            accepted_at=kingston("2026-03-06 16:05"),
        )
    store.time.now = kingston("2026-03-06 16:10")
    await monitor.tick()
    async with store.sessions() as session, session.begin():
        message = await add_customer_message(
            session, conversation_id, at=kingston("2026-03-06 16:20")
        )
    async with store.sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        customer = await session.get(Message, message.id)
        assert conversation is not None and customer is not None
        assert await open_next_window(session, conversation, customer, CLOCK, customer.created_at)
        # Resolved at 16:30 without a reply to "thanks, bye": the window closes unanswered.
        [record] = await session.scalars(select(Handoff))
        record.resolved_at = kingston("2026-03-06 16:30")
        conversation.state = ConversationState.RESOLVED
    async with store.sessions() as session:
        # Weeks later, another handoff of the same conversation gets a reply.
        await add_rep_reply(
            session,
            conversation_id,
            ann,
            written_at=kingston("2026-03-30 09:00"),
            accepted_at=kingston("2026-03-30 09:00"),
        )
    store.time.now = kingston("2026-03-30 10:00")
    await monitor.tick()
    [_, following] = await store.windows(conversation_id)
    assert following.answered_at is None and following.breached_at is None


def test_the_gateway_does_not_start_with_a_broken_business_hours_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "business_hours.yml"
    broken.write_text("teams:\n  general:\n    timezone: America/Kingston\n    hours: {}\n")
    with pytest.raises(BusinessHoursError, match="team 'general': unknown timezone"):
        build_services(
            make_settings(sqlite_url, BUSINESS_HOURS_FILE=str(broken)), socketio.AsyncServer()
        )
    # The shipped file: Kingston's hours reach the router's and the monitor's clocks alike.
    services = build_services(
        make_settings(sqlite_url, BUSINESS_HOURS_FILE="business_hours.yml"), socketio.AsyncServer()
    )
    assert services.monitor is not None and services.monitor.response_clock is not None
    hours = services.monitor.response_clock.calendar("general")
    assert hours.timezone.key == "America/Jamaica" and date(2026, 12, 25) in hours.holidays


def test_the_closed_team_text_is_in_the_customers_language() -> None:
    reopening = datetime(2026, 4, 7, 8, 0, tzinfo=JAMAICA)
    assert describe_opening(reopening, "es") == "martes 7 de abril a las 08:00 (hora de Jamaica)"
    assert describe_opening(reopening, "ht") == "madi 7 avril a 08:00 (lè Jamaica)"
    promise = promise_text(HandoffReason.CUSTOMER_REQUEST, 24, "fr", back_at=reopening)
    assert promise.endswith(
        "une personne sera de retour le mardi 7 avril à 08:00 (heure de Jamaica)."
    )
    # A language the assistant does not answer in: English and French, each with its own.
    both = queue_notice_text(24, "pap", back_at=reopening).split("\n\n")
    assert both[0].endswith("back on Tuesday 7 April at 08:00 (Jamaica time).")
    assert both[1].endswith("de retour le mardi 7 avril à 08:00 (heure de Jamaica).")
