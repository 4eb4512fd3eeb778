"""Auto-assignment: each waiting conversation is offered to the right available rep.

The rep: in the conversation's team, speaking its language (when some active rep speaks it;
otherwise any rep of the team, and supervisors see the conversation flagged), available, below
their limit for the conversation's channel kind (handoff/capacity.py); of those, the one with
the fewest open conversations, ties to the longest idle (last given a conversation longest
ago). Teams whose `auto_assign` is off in the routing table are left to take-next and claims.

A pass reads the available reps and the waiting conversations once, decides in memory, and
makes each assignment in its own short transaction with the same guarantees as a claim: the
conversation is taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a conditional update on
SQLite), so a rep's claim, take-next or another assigner (another gateway instance) and this
one never both own it; the rep's row is locked and their open conversations counted again
before the assignment, so concurrent assigners never take a rep past their limit. A decision
that loses either race is simply made again with the next candidate.

Every gateway instance runs the loop: it wakes on every queue or presence event (from any
instance, through the live hub) and at least every AUTO_ASSIGN_INTERVAL_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import Actor
from bot.loop_failures import LoopFailures
from bot.settings import setting_default
from bot.store.models import Conversation, ConversationState, Presence, Rep, utcnow
from handoff.capacity import Capacity, ChannelKind, open_count, open_counts
from handoff.live import LiveEvent, LiveHub, queue_changed
from handoff.queue import assign, routable_language, take_waiting
from handoff.roster import skills_of, spoken_languages
from handoff.routing import RoutingTable

logger = logging.getLogger(__name__)
S = ConversationState
NEVER = datetime.min.replace(tzinfo=UTC)
# Waiting conversations looked at per pass, first to serve first; the rest wait for the next.
PASS_LIMIT = 1000


def language_unserved(conversation_id: int, language: str) -> LiveEvent:
    """A conversation waits in a language no active rep speaks (supervisors' consoles)."""
    return LiveEvent("language", conversation_id, {"language": language})


class _Declined(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


@dataclass(slots=True)
class Candidate:
    """An available rep as a pass sees them."""

    id: int
    username: str
    teams: frozenset[str]
    languages: frozenset[str]
    capacity: Capacity
    open: dict[ChannelKind, int]
    last_assigned_at: datetime
    out: bool = False  # found away or deactivated mid-pass

    def has_room(self, kind: ChannelKind) -> bool:
        return not self.out and self.open[kind] < self.capacity.limit(kind)

    @property
    def load(self) -> int:
        return sum(self.open.values())


@dataclass(frozen=True, slots=True)
class Waiting:
    id: int
    team: str
    kind: ChannelKind
    language: str | None


@dataclass(frozen=True, slots=True)
class Offer:
    """One assignment made: conversation to rep."""

    conversation_id: int
    rep_id: int


@dataclass(slots=True)
class PassReport:
    offers: list[Offer] = field(default_factory=list)
    unserved: list[int] = field(default_factory=list)  # newly flagged: nobody speaks it
    decisions: int = 0  # conversations looked at


@dataclass
class AutoAssigner:
    session_factory: async_sessionmaker[AsyncSession]
    table: RoutingTable
    capacity: Capacity = field(default_factory=Capacity)
    live: LiveHub | None = None
    interval: float = setting_default("AUTO_ASSIGN_INTERVAL_SECONDS")
    clock: Callable[[], datetime] = utcnow

    async def assign_waiting(self) -> PassReport:
        """One pass over the waiting conversations of auto-assigned teams."""
        now = self.clock()
        report = PassReport()
        async with self.session_factory() as session:
            candidates = await _candidates(session, self.capacity)
            spoken = await spoken_languages(session)
            waiting = await _waiting(session, self.table)
        report.unserved = await self._flag_unserved(waiting, spoken, now)
        auto_teams = self.table.auto_assigned
        for conversation in waiting:
            if conversation.team not in auto_teams:
                continue
            if not any(c.has_room(conversation.kind) for c in candidates):
                if all(not c.has_room(k) for c in candidates for k in ChannelKind):
                    break  # nobody can take anything more this pass
                continue
            report.decisions += 1
            offer = await self._offer(conversation, candidates, spoken, now)
            if offer is not None:
                report.offers.append(offer)
        if self.live is not None:
            for offer in report.offers:
                self.live.publish(queue_changed(offer.conversation_id))
        return report

    async def _offer(
        self,
        conversation: Waiting,
        candidates: list[Candidate],
        spoken: set[str],
        now: datetime,
    ) -> Offer | None:
        """Assign `conversation` to the best candidate that still has room, if any."""
        tried: set[int] = set()
        while True:
            rep = best_rep(conversation, candidates, spoken, exclude=tried)
            if rep is None:
                return None
            tried.add(rep.id)
            outcome = await self._assign(conversation, rep, now)
            if outcome == "assigned":
                rep.open[conversation.kind] += 1
                rep.last_assigned_at = now
                logger.info(
                    "queue.auto_assigned conversation_id=%s rep_id=%s team=%s",
                    conversation.id,
                    rep.id,
                    conversation.team,
                )
                return Offer(conversation.id, rep.id)
            if outcome == "taken":
                return None  # someone else has the conversation

    async def _assign(self, conversation: Waiting, candidate: Candidate, now: datetime) -> str:
        """ "assigned", "taken" (the conversation went elsewhere) or "rep" (the rep cannot)."""
        try:
            async with self.session_factory() as session, session.begin():
                await self._assign_in(session, conversation, candidate, now)
        except _Declined as declined:
            return declined.why
        return "assigned"

    async def _assign_in(
        self, session: AsyncSession, conversation: Waiting, candidate: Candidate, now: datetime
    ) -> None:
        taken = await take_waiting(session, conversation.id, [S.QUEUED])
        if taken is None:
            raise _Declined("taken")
        rep = await _lock_rep(session, candidate.id)
        if rep is None or not rep.active or rep.presence != Presence.AVAILABLE:
            candidate.out = True
            raise _Declined("rep")
        holding = await open_count(session, rep.id, conversation.kind)
        candidate.open[conversation.kind] = holding
        if holding >= candidate.capacity.limit(conversation.kind):
            raise _Declined("rep")  # the transaction rolls back: the conversation waits on
        await assign(
            session,
            taken,
            rep,
            actor=str(Actor.SYSTEM),
            reason=f"auto-assigned to {rep.username} ({conversation.team})",
            now=now,
        )

    async def _flag_unserved(
        self, waiting: list[Waiting], spoken: set[str], now: datetime
    ) -> list[int]:
        """Mark, once per handoff, the waiting conversations in a language nobody speaks."""
        found = [w for w in waiting if w.language and w.language not in spoken]
        if not found:
            return []
        async with self.session_factory() as session, session.begin():
            flagged = list(
                await session.scalars(
                    update(Conversation)
                    .where(
                        Conversation.id.in_([w.id for w in found]),
                        Conversation.unserved_language_at.is_(None),
                    )
                    .values(unserved_language_at=now)
                    .returning(Conversation.id)
                    .execution_options(synchronize_session=False)
                )
            )
        languages = {w.id: w.language for w in found}
        for conversation_id in flagged:
            logger.info(
                "queue.language_unserved conversation_id=%s language=%s",
                conversation_id,
                languages[conversation_id],
            )
            if self.live is not None:
                self.live.publish(
                    language_unserved(conversation_id, str(languages[conversation_id]))
                )
        return flagged

    async def run(self) -> None:
        """Pass on every queue or presence event, and every `interval` seconds; until cancelled."""
        logger.info("auto_assign.started interval=%s", self.interval)
        failures = LoopFailures(logger, "auto_assign.pass_failed")
        if self.live is None:
            while True:
                await self._pass(failures)
                await asyncio.sleep(self.interval)
        async with self.live.subscribe() as events:
            while True:
                await self._pass(failures)
                # Wait for something that may make an assignment possible, then drain what
                # else arrived meanwhile: one pass serves a burst of events.
                event = await events.next(timeout=self.interval)
                while event is not None and event.kind not in ("queue", "presence", "resync"):
                    event = await events.next(timeout=self.interval)
                while await events.next(timeout=0.01) is not None:
                    pass

    async def _pass(self, failures: LoopFailures) -> None:
        try:
            await self.assign_waiting()
            failures.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failures.failed(error)


def best_rep(
    conversation: Waiting,
    candidates: list[Candidate],
    spoken: set[str],
    *,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> Candidate | None:
    """The rep to offer `conversation` to: team, language, room; fewest open, longest idle."""
    # A language some active rep speaks waits for one of them; one nobody speaks goes to the
    # team as a whole (and is flagged), rather than wait for ever.
    needs_language = conversation.language is not None and conversation.language in spoken
    fitting = [
        c
        for c in candidates
        if c.id not in exclude
        and conversation.team in c.teams
        and (not needs_language or conversation.language in c.languages)
        and c.has_room(conversation.kind)
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda c: (c.load, c.last_assigned_at, c.id))


async def _candidates(session: AsyncSession, defaults: Capacity) -> list[Candidate]:
    reps = list(
        await session.scalars(
            select(Rep).where(Rep.active.is_(True), Rep.presence == Presence.AVAILABLE)
        )
    )
    skills = await skills_of(session, [r.id for r in reps])
    counts = await open_counts(session, [r.id for r in reps])
    return [
        Candidate(
            id=rep.id,
            username=rep.username,
            teams=frozenset(skills[rep.id].teams),
            languages=frozenset(skills[rep.id].languages),
            capacity=defaults.of(rep),
            open=dict(counts.get(rep.id, dict.fromkeys(ChannelKind, 0))),
            last_assigned_at=rep.last_assigned_at or NEVER,
        )
        for rep in reps
    ]


async def _waiting(session: AsyncSession, table: RoutingTable) -> list[Waiting]:
    rows = await session.execute(
        select(Conversation.id, Conversation.team, Conversation.channel, Conversation.language)
        .where(Conversation.state == S.QUEUED)
        .order_by(Conversation.priority_rank, Conversation.due_at, Conversation.id)
        .limit(PASS_LIMIT)
    )
    return [
        Waiting(id, table.team(team).key, ChannelKind.of(channel), routable_language(language))
        for id, team, channel, language in rows
    ]


async def _lock_rep(session: AsyncSession, rep_id: int) -> Rep | None:
    """The rep's row, locked until this transaction ends (PostgreSQL; SQLite's writer lock is
    held already, since taking the conversation wrote)."""
    query = select(Rep).where(Rep.id == rep_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rep: Rep | None = await session.scalar(query)
    return rep
