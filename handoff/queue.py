"""The human queue: what waits, in order, and taking a conversation so exactly one rep owns it.

Tier 1 is the conversations waiting for a rep (`queued`), tier 2 those escalated to supervisors
(`escalated`). Both are served by priority, then due time. Claiming is safe under concurrency:
on PostgreSQL the row is locked with `SELECT … FOR UPDATE SKIP LOCKED` (a claimer skips rows
another is taking) and updated in the same transaction; SQLite has no row locks, so a
conditional `UPDATE … WHERE state = <waiting>` claims the row and its row count says who won.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.languages import UNDETERMINED
from bot.lifecycle import transition
from bot.response_windows import handoff_record
from bot.store.models import (
    Contact,
    Conversation,
    ConversationState,
    Handoff,
    Rep,
    RepLanguage,
    RepTeam,
    Role,
    utcnow,
)
from handoff.errors import Conflict, NotFound
from handoff.live import LiveHub, queue_changed
from handoff.permissions import rep_actor, require_role, require_tier

S = ConversationState
QUEUE_STATES: dict[int, ConversationState] = {1: S.QUEUED, 2: S.ESCALATED}
WAITING_STATES = frozenset(QUEUE_STATES.values())
_SQLITE_CANDIDATES = 8
_Row = TypeVar("_Row", bound=Any)


def tier_of_waiting(conversation: Conversation) -> int:
    return 2 if conversation.state == S.ESCALATED else 1


def _in_queue_order(query: Select[_Row]) -> Select[_Row]:
    return query.order_by(Conversation.priority_rank, Conversation.due_at, Conversation.id)


def language_of(conversation: Conversation) -> str | None:
    """The conversation's language code, when it is known ("und", could not be told: None)."""
    return routable_language(conversation.language)


def routable_language(language: str | None) -> str | None:
    return None if not language or language == UNDETERMINED else language


@dataclass(frozen=True, slots=True)
class Preference:
    """What a rep taking the next conversation would rather have: their languages, their teams."""

    languages: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    default_team: str = "general"

    def order(self) -> list[ColumnElement[int]]:
        """Sort keys (0 first): in one of the rep's languages, then in one of their teams."""
        keys: list[ColumnElement[int]] = []
        if self.languages:
            keys.append(case((Conversation.language.in_(self.languages), 0), else_=1))
        if self.teams:
            team = Conversation.team
            mine: ColumnElement[bool] = team.in_(self.teams)
            if self.default_team in self.teams:
                mine = mine | team.is_(None)  # from before teams: the default team's
            keys.append(case((mine, 0), else_=1))
        return keys


async def preference_of(session: AsyncSession, rep: Rep, default_team: str) -> Preference:
    languages = await session.scalars(
        select(RepLanguage.language).where(RepLanguage.rep_id == rep.id)
    )
    teams = await session.scalars(select(RepTeam.team).where(RepTeam.rep_id == rep.id))
    return Preference(tuple(languages), tuple(teams), default_team)


async def waiting(
    *, session: AsyncSession, rep: Rep, tier: int, limit: int = 500
) -> list[Conversation]:
    """The conversations waiting in `tier`'s queue, first to serve first (contacts loaded)."""
    require_tier(rep, tier)
    query = _in_queue_order(
        select(Conversation).where(Conversation.state == QUEUE_STATES[tier])
    ).limit(limit)
    conversations = list(await session.scalars(query))
    await _load_contacts(session, conversations)
    return conversations


async def assigned_to(*, session: AsyncSession, rep: Rep) -> list[Conversation]:
    """The conversations `rep` owns now, those due soonest first."""
    query = _in_queue_order(
        select(Conversation).where(
            Conversation.assigned_rep_id == rep.id, Conversation.state == S.ASSIGNED
        )
    )
    conversations = list(await session.scalars(query))
    await _load_contacts(session, conversations)
    return conversations


async def _load_contacts(session: AsyncSession, conversations: list[Conversation]) -> None:
    ids = {c.contact_id for c in conversations}
    if ids:
        # Loaded into the identity map, so `conversation.contact` needs no further query.
        await session.scalars(select(Contact).where(Contact.id.in_(ids)))


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[None]:
    """Commit what the block did; when it raises (a refusal too), roll back, which unlocks."""
    try:
        yield
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


async def lock_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    """Load a conversation so that no one else can change it until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        conversation = await session.scalar(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        # A write takes SQLite's single writer lock; reads after it see the latest data.
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=Conversation.updated_at)
            .execution_options(synchronize_session=False)
        )
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound(f"There is no conversation {conversation_id}.")
    return conversation


async def current_handoff(
    session: AsyncSession, conversation: Conversation, now: datetime
) -> Handoff:
    """The record of the conversation's current handoff (caller holds the conversation's lock)."""
    return await handoff_record(session, conversation, now)


async def assign(
    session: AsyncSession, conversation: Conversation, rep: Rep, *, actor: str, reason: str,
    now: datetime,
) -> None:  # fmt: skip
    """Make `rep` the owner of a locked conversation (caller commits)."""
    # The handoff record is made at the first reply or at resolution, not here: claiming is the
    # hot path of a busy queue, and the audit event already says when it was claimed.
    transition(session, conversation, S.ASSIGNED, actor=actor, reason=reason, at=now)
    conversation.assigned_rep_id = rep.id
    # Auto-assignment gives the next conversation to the rep idle longest.
    await session.execute(
        update(Rep)
        .where(Rep.id == rep.id)
        .values(last_assigned_at=now)
        .execution_options(synchronize_session=False)
    )


async def claim(
    *,
    session: AsyncSession,
    conversation_id: int,
    rep: Rep,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Take one waiting conversation; `Conflict` when someone else has it already."""
    now = now or utcnow()
    async with committing(session):
        conversation = await _take(session, rep, conversation_id=conversation_id)
        if conversation is None:
            raise Conflict("Someone else took this conversation, or it is not waiting any more.")
        await assign(session, conversation, rep, actor=rep_actor(rep), reason="claimed", now=now)
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation


async def claim_next(
    *,
    session: AsyncSession,
    rep: Rep,
    tier: int,
    live: LiveHub | None = None,
    now: datetime | None = None,
    prefer: Preference | None = None,
) -> Conversation | None:
    """Take the first conversation waiting in `tier`'s queue; None when it is empty.

    With `prefer`, conversations in the rep's languages come first, then those of their teams,
    each in queue order: a rep takes what they can answer before what they cannot.
    """
    require_tier(rep, tier)
    now = now or utcnow()
    async with committing(session):
        conversation = await _take(session, rep, tier=tier, prefer=prefer)
        if conversation is not None:
            await assign(
                session, conversation, rep, actor=rep_actor(rep), reason="took next", now=now
            )
    if conversation is None:
        return None
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation


async def _take(
    session: AsyncSession,
    rep: Rep,
    *,
    conversation_id: int | None = None,
    tier: int = 1,
    prefer: Preference | None = None,
) -> Conversation | None:
    """Lock a waiting conversation for this transaction: the one given, or the next of `tier`."""
    if conversation_id is not None:
        found = await session.get(Conversation, conversation_id)
        if found is None:
            raise NotFound(f"There is no conversation {conversation_id}.")
        if found.state not in WAITING_STATES:
            raise Conflict("This conversation is not waiting in a queue.")
        require_tier(rep, tier_of_waiting(found))
        states = [found.state]
    else:
        states = [QUEUE_STATES[tier]]
    order = prefer.order() if prefer is not None else []
    if session.get_bind().dialect.name == "postgresql":
        return await _take_postgresql(session, states, conversation_id, order)
    return await _take_sqlite(session, states, conversation_id, order)


async def take_first_waiting(
    session: AsyncSession, conversation_ids: list[int], states: list[ConversationState]
) -> Conversation | None:
    """Lock the first of `conversation_ids`, in queue order, that is still waiting and that
    nobody is taking now; None when there is none.

    For the auto-assigner: a conversation a rep or another assigner is taking at this moment is
    skipped, not waited for (`SKIP LOCKED` on PostgreSQL; the conditional update on SQLite).
    """
    if not conversation_ids:
        return None
    if session.get_bind().dialect.name == "postgresql":
        found: Conversation | None = await session.scalar(
            _in_queue_order(
                select(Conversation).where(
                    Conversation.id.in_(conversation_ids),
                    Conversation.state.in_(states),
                    Conversation.assigned_rep_id.is_(None),
                )
            )
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return found
    for conversation_id in conversation_ids:  # given in queue order
        taken = await _take_sqlite(session, states, conversation_id, [])
        if taken is not None:
            return taken
    return None


async def _take_postgresql(
    session: AsyncSession,
    states: list[ConversationState],
    conversation_id: int | None,
    order: list[ColumnElement[int]],
) -> Conversation | None:
    query = select(Conversation).where(Conversation.state.in_(states))
    if conversation_id is not None:
        # Wait for a concurrent claimer to finish, then see whether it is still waiting.
        query = query.where(Conversation.id == conversation_id).with_for_update()
    else:
        query = _in_queue_order(query.order_by(*order)).limit(1).with_for_update(skip_locked=True)
    conversation: Conversation | None = await session.scalar(
        query.execution_options(populate_existing=True)
    )
    return conversation


async def _take_sqlite(
    session: AsyncSession,
    states: list[ConversationState],
    conversation_id: int | None,
    order: list[ColumnElement[int]],
) -> Conversation | None:
    while True:
        if conversation_id is not None:
            candidates = [conversation_id]
        else:
            candidates = list(
                await session.scalars(
                    _in_queue_order(
                        select(Conversation.id)
                        .where(Conversation.state.in_(states))
                        .order_by(*order)
                    ).limit(_SQLITE_CANDIDATES)
                )
            )
        if not candidates:
            return None
        for candidate in candidates:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == candidate,
                    Conversation.state.in_(states),
                    Conversation.assigned_rep_id.is_(None),
                )
                .values(updated_at=Conversation.updated_at)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                # This transaction now holds SQLite's writer lock: nobody else can claim it.
                return await session.get(Conversation, candidate, populate_existing=True)
        if conversation_id is not None:
            return None
        # Every candidate went to someone else before we got the lock; look again.


async def release(
    *,
    session: AsyncSession,
    conversation_id: int,
    rep: Rep,
    live: LiveHub | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Give an owned conversation back to its queue (tier 2 goes back to the supervisors)."""
    now = now or utcnow()
    async with committing(session):
        conversation = await lock_conversation(session, conversation_id)
        if conversation.state != S.ASSIGNED:
            raise Conflict("Only an assigned conversation can be released.")
        if conversation.assigned_rep_id != rep.id:
            # A supervisor may put back what a rep left (end of shift, sick leave).
            require_role(rep, Role.SUPERVISOR)
        back_to = S.ESCALATED if (conversation.tier or 1) >= 2 else S.QUEUED
        transition(session, conversation, back_to, actor=rep_actor(rep), reason="released", at=now)
        conversation.assigned_rep_id = None
    if live is not None:
        live.publish(queue_changed(conversation.id))
    return conversation
