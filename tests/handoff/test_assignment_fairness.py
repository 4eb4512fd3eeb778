"""A seeded day at the desk: 500 handoffs over 8 reps in two teams and two languages.

Handoffs arrive through the day, each in a team (general, payments), a language (en, es) and
on web chat or SMS; reps take a lunch hour (busy) and resolve what they are given after a while.
After every arrival, resolution and presence change the assigner runs as in the gateway, and:
no rep ever holds more than their limit; no conversation waits while a rep of its team who
speaks its language is available with room; and at the end each rep has been given within
±15 % of an even share of their team and language's handoffs.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Conversation, ConversationState, Presence, Rep, utcnow
from handoff.auto_assign import AutoAssigner
from handoff.capacity import Capacity, ChannelKind
from handoff.presence import set_presence
from handoff.routing import DEFAULT_PATH, RoutingTable
from tests.handoff.factories import make_queued, make_rep

S = ConversationState
HANDOFFS = 500
TEAMS = ("general", "payments")
LANGUAGES = ("en", "es")
LIMITS = Capacity(chat=2, messaging=3)
TOLERANCE = 0.15


@dataclass(order=True)
class Event:
    at: datetime
    order: int
    kind: str = field(compare=False)  # "arrive", "resolve", "busy", "back"
    subject: object = field(compare=False)


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def test_a_day_of_500_handoffs_is_shared_fairly_within_limits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rng = random.Random(16)
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    clock = {"now": start}
    assigner = AutoAssigner(
        sessions, RoutingTable.load(DEFAULT_PATH), capacity=LIMITS, clock=lambda: clock["now"]
    )
    reps: dict[int, tuple[str, str]] = {}  # rep id -> (team, language)
    async with sessions() as session:
        for n, (team, language) in enumerate(
            (t, lang) for t in TEAMS for lang in LANGUAGES for _ in range(2)
        ):
            rep = await make_rep(
                session, f"rep-{n}", teams=[team], languages=[language], presence=Presence.AVAILABLE
            )
            reps[rep.id] = (team, language)

    events: list[Event] = []
    order = iter(range(10**9))
    # As many handoffs for each team and language, in a shuffled order, spread over the day.
    kinds = [(t, lang) for t in TEAMS for lang in LANGUAGES] * (HANDOFFS // 4)
    rng.shuffle(kinds)
    times = sorted(rng.uniform(0, 24 * 3600) for _ in range(HANDOFFS))
    for n, (seconds, (team, language)) in enumerate(zip(times, kinds, strict=True)):
        channel = Channel.WEBCHAT if rng.random() < 0.6 else Channel.SMS
        heapq.heappush(
            events,
            Event(
                start + timedelta(seconds=seconds),
                next(order),
                "arrive",
                (n, team, language, channel),
            ),
        )
    # Each rep's lunch hour, staggered so a team and language always has someone.
    for k, rep_id in enumerate(reps):
        lunch = start + timedelta(hours=11 + (k % 2) * 1.5, minutes=k * 5)
        heapq.heappush(events, Event(lunch, next(order), "busy", rep_id))
        heapq.heappush(events, Event(lunch + timedelta(hours=1), next(order), "back", rep_id))

    language_of: dict[int, str] = {}
    team_of: dict[int, str] = {}
    given: Counter[int] = Counter()
    waited_while_free = 0
    while events:
        event = heapq.heappop(events)
        clock["now"] = event.at
        async with sessions() as session:
            if event.kind == "arrive":
                n, team, language, channel = event.subject  # type: ignore[misc]
                conversation = await make_queued(
                    session,
                    address=f"+1246555{n:04d}" if channel == Channel.SMS else f"web-{n}",
                    channel=channel,
                    team=team,
                    language=language,
                    now=event.at,
                )
                language_of[conversation.id] = language
                team_of[conversation.id] = team
            elif event.kind == "resolve":
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == event.subject)
                    .values(state=S.RESOLVED, assigned_rep_id=None)
                )
                await session.commit()
            else:
                rep = await session.get(Rep, event.subject)
                assert rep is not None
                presence = Presence.BUSY if event.kind == "busy" else Presence.AVAILABLE
                set_presence(session, rep, presence, actor="rep", now=event.at)
                await session.commit()
        report = await assigner.assign_waiting()
        for offer in report.offers:
            given[offer.rep_id] += 1
            handling = timedelta(minutes=rng.uniform(10, 50))
            heapq.heappush(
                events, Event(event.at + handling, next(order), "resolve", offer.conversation_id)
            )
        waited_while_free += await _check(sessions, reps, language_of, team_of)

    even = HANDOFFS / len(reps)
    # The figures (`pytest -s`): each rep's handoffs and the largest gap from an even share.
    widest = max(abs(n - even) for n in given.values()) / even
    print(f"\nfairness: {sorted(given.values())}, widest gap from even {widest:.1%}")
    assert waited_while_free == 0
    assert sum(given.values()) == HANDOFFS
    for team in TEAMS:
        for language in LANGUAGES:
            serving = [r for r, skills in reps.items() if skills == (team, language)]
            even = sum(given[r] for r in serving) / len(serving)
            for rep_id in serving:
                assert abs(given[rep_id] - even) <= TOLERANCE * even, (team, language, given)
    assert all(abs(given[r] - even) <= TOLERANCE * even for r in reps), given


async def _check(
    sessions: async_sessionmaker[AsyncSession],
    reps: dict[int, tuple[str, str]],
    language_of: dict[int, str],
    team_of: dict[int, str],
) -> int:
    """Assert no rep is over a limit; count waiting conversations a free matching rep could take."""
    async with sessions() as session:
        rows = list(
            await session.execute(
                select(
                    Conversation.id,
                    Conversation.state,
                    Conversation.channel,
                    Conversation.assigned_rep_id,
                )
            )
        )
        presence = dict((await session.execute(select(Rep.id, Rep.presence))).all())
    held: dict[int, Counter[ChannelKind]] = {r: Counter() for r in reps}
    for _, state, channel, owner in rows:
        if state == S.ASSIGNED and owner is not None:
            held[owner][ChannelKind.of(channel)] += 1
    for rep_id, kinds in held.items():
        for kind, count in kinds.items():
            assert count <= LIMITS.limit(kind), (rep_id, kind, count)
    waiting_with_free_rep = 0
    for cid, state, channel, _ in rows:
        if state != S.QUEUED:
            continue
        kind = ChannelKind.of(channel)
        if any(
            reps[r] == (team_of[cid], language_of[cid])
            and presence[r] == Presence.AVAILABLE
            and held[r][kind] < LIMITS.limit(kind)
            for r in reps
        ):
            waiting_with_free_rep += 1
    return waiting_with_free_rep
