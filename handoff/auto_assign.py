"""Auto-assignment: each waiting conversation is offered to the right available rep.

The rep: in the conversation's team, speaking its language (when some active rep speaks it;
otherwise any rep of the team, and supervisors see the conversation flagged), available, below
their limit for the conversation's channel kind (handoff/capacity.py); of those, the one with
the fewest open conversations, ties to the longest idle (last given a conversation longest
ago). A rep who released a conversation is not offered it again. Teams whose `auto_assign` is
off in the routing table are left to take-next and claims.

A pass reads the available reps and the waiting conversations once, decides in memory, and
makes each assignment in its own short transaction with the same guarantees as a claim: the
conversation is taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a conditional update on
SQLite), so a rep's claim, take-next or another assigner (another gateway instance) and this
one never both own it; the rep's row is locked and their open conversations counted again
before the assignment, so concurrent assigners never take a rep past their limit. Each decision
takes the first of the next few conversations some rep could take that is still waiting and
that nobody else is taking, and a rep whose row another assigner holds is passed over for the
next best: assigners passing at once work side by side instead of queueing behind each other.

Every gateway instance runs the loop: it wakes on every queue or presence event (from any
instance, through the live hub) and at least every AUTO_ASSIGN_INTERVAL_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import Actor
from bot.loop_failures import LoopFailures
from bot.settings import setting_default
from bot.store.models import (
    AlertKind,
    AuditEvent,
    Conversation,
    ConversationState,
    Presence,
    Rep,
    utcnow,
)
from handoff.alerts.raising import AlertRaiser, conversation_subject
from handoff.capacity import Capacity, ChannelKind, open_count, open_counts
from handoff.live import LiveEvent, LiveHub, queue_changed
from handoff.queue import assign, routable_language, take_first_waiting
from handoff.roster import skills_of, spoken_languages
from handoff.routing import RoutingTable

logger = logging.getLogger(__name__)
S = ConversationState
NEVER = datetime.min.replace(tzinfo=UTC)
# Waiting conversations looked at per pass, first to serve first; the rest wait for the next.
PASS_LIMIT = 1000
# Each decision takes the first of this many, in queue order, that is still waiting and that
# no other assigner is taking (SKIP LOCKED): assigners passing at once work on different ones
# instead of queueing behind each other.
DECISION_BATCH = 20


def language_unserved(conversation_id: int, language: str) -> LiveEvent:
    """A conversation waits in a language no active rep speaks (supervisors' consoles)."""
    return LiveEvent("language", conversation_id, {"language": language})


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
    # Reps who gave it back (released it): not offered it again; they may still claim it.
    released_by: frozenset[int] = frozenset()


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
    # Supervisors' alerts (webhook, email): a language nobody speaks is raised with its flag.
    alerts: AlertRaiser | None = None
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
        pending = [w for w in waiting if w.team in auto_teams]
        while pending:
            # The first few, in queue order, that some rep could take now.
            openings: dict[tuple[str, str | None, ChannelKind], bool] = {}
            batch: list[Waiting] = []
            for conversation in pending:
                if _can_take(conversation, candidates, spoken, openings):
                    batch.append(conversation)
                    if len(batch) == DECISION_BATCH:
                        break
            if not batch:
                break
            report.decisions += 1
            decided, offer = await self._decide(batch, candidates, spoken, now)
            if offer is not None:
                report.offers.append(offer)
            settled = {w.id for w in batch} if decided is None else {decided}
            pending = [w for w in pending if w.id not in settled]
        if self.live is not None:
            for offer in report.offers:
                self.live.publish(queue_changed(offer.conversation_id))
        return report

    async def _decide(
        self, batch: list[Waiting], candidates: list[Candidate], spoken: set[str], now: datetime
    ) -> tuple[int | None, Offer | None]:
        """Take the first conversation of `batch` still waiting that no one else is taking, and
        give it to the best rep with room: (its id, the offer or None when no rep could). (None,
        None) when every one of the batch went elsewhere or is being taken now."""
        by_id = {w.id: w for w in batch}
        async with self.session_factory() as session, session.begin():
            taken = await take_first_waiting(session, list(by_id), [S.QUEUED])
            if taken is None:
                return None, None
            conversation = by_id[taken.id]
            tried: set[int] = set()
            while (
                candidate := best_rep(conversation, candidates, spoken, exclude=tried)
            ) is not None:
                tried.add(candidate.id)
                rep = await _lock_rep(session, candidate.id)
                if rep is None:
                    # Another assigner is giving this rep a conversation now: rather than wait,
                    # offer this one to the next rep (the busy one holds one more in a moment).
                    continue
                if not rep.active or rep.presence != Presence.AVAILABLE:
                    candidate.out = True
                    continue
                # Counted after the lock, in a statement of its own, so it sees every
                # assignment committed by whoever held the rep before.
                holding = await open_count(session, rep.id, conversation.kind)
                candidate.open[conversation.kind] = holding
                if holding >= candidate.capacity.limit(conversation.kind):
                    continue
                await assign(
                    session,
                    taken,
                    rep,
                    actor=str(Actor.SYSTEM),
                    reason=f"auto-assigned to {rep.username} ({conversation.team})",
                    now=now,
                )
                candidate.open[conversation.kind] += 1
                candidate.last_assigned_at = now
                break
            else:
                # Nobody could after all: the transaction ends, the conversation waits on.
                return conversation.id, None
        logger.info(
            "queue.auto_assigned conversation_id=%s rep_id=%s team=%s",
            conversation.id,
            candidate.id,
            conversation.team,
        )
        return conversation.id, Offer(conversation.id, candidate.id)

    async def _flag_unserved(
        self, waiting: list[Waiting], spoken: set[str], now: datetime
    ) -> list[int]:
        """Mark, once per handoff, the waiting conversations in a language nobody speaks."""
        found = [w for w in waiting if w.language and w.language not in spoken]
        if not found:
            return []
        languages = {w.id: w.language for w in found}
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
            if self.alerts is not None:
                # In the flag's transaction: the alert exists exactly when the flag does.
                for conversation_id in flagged:
                    await self.alerts.raise_alert(
                        session,
                        kind=AlertKind.LANGUAGE_UNSERVED,
                        subject=conversation_subject(conversation_id, now),
                        details={"language": languages[conversation_id]},
                        now=now,
                        conversation_id=conversation_id,
                    )
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


def _can_take(
    conversation: Waiting,
    candidates: list[Candidate],
    spoken: set[str],
    openings: dict[tuple[str, str | None, ChannelKind], bool],
) -> bool:
    """Whether some rep could take `conversation` now (memoised per team, language, kind)."""
    if conversation.released_by:
        return best_rep(conversation, candidates, spoken) is not None
    key = (conversation.team, conversation.language, conversation.kind)
    if key not in openings:
        openings[key] = best_rep(conversation, candidates, spoken) is not None
    return openings[key]


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
        and c.id not in conversation.released_by
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
    found = list(rows)
    released: dict[int, set[int]] = defaultdict(set)
    if found:
        for conversation_id, actor in await session.execute(
            select(AuditEvent.conversation_id, AuditEvent.actor).where(
                AuditEvent.conversation_id.in_([row[0] for row in found]),
                AuditEvent.from_state == S.ASSIGNED,
                AuditEvent.to_state == S.QUEUED,
                AuditEvent.actor.like("rep:%"),
            )
        ):
            if conversation_id is not None and actor[4:].isdigit():
                released[conversation_id].add(int(actor[4:]))
    return [
        Waiting(
            id,
            table.team(team).key,
            ChannelKind.of(channel),
            routable_language(language),
            frozenset(released.get(id, ())),
        )
        for id, team, channel, language in found
    ]


async def _lock_rep(session: AsyncSession, rep_id: int) -> Rep | None:
    """The rep's row, locked until this transaction ends; None while another transaction holds
    it (PostgreSQL, `SKIP LOCKED`; on SQLite the writer lock is held already, since taking the
    conversation wrote, so nobody else can be assigning)."""
    query = select(Rep).where(Rep.id == rep_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rep: Rep | None = await session.scalar(query)
    return rep
