"""Who serves what: reps' teams and languages, their limits, and the languages spoken.

Teams are declared in the routing table (handoff/routing.yml); memberships and languages are
stored per rep (`rep_teams`, `rep_languages`) and changed by admins (CLI `caricom rep …`, the
console's Reps page, `PUT /api/reps/{username}/routing`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    AuditEvent,
    Conversation,
    ConversationState,
    Presence,
    Rep,
    RepLanguage,
    RepTeam,
)
from handoff.capacity import Capacity, ChannelKind, open_counts
from handoff.errors import Invalid, NotFound
from handoff.routing import RoutingTable, RoutingTableError
from handoff.schemas import RepRoutingPublic, TeamPublic

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,49}")
MAX_CAPACITY = 100
# What a new account serves until an admin says otherwise.
NEW_REP_LANGUAGES = ("en",)


@dataclass(frozen=True, slots=True)
class Skills:
    teams: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


async def skills_of(session: AsyncSession, rep_ids: Iterable[int]) -> dict[int, Skills]:
    """Each rep's teams and languages (reps with neither get empty `Skills`)."""
    ids = list(rep_ids)
    teams: dict[int, list[str]] = defaultdict(list)
    languages: dict[int, list[str]] = defaultdict(list)
    if ids:
        for rep_id, team in await session.execute(
            select(RepTeam.rep_id, RepTeam.team)
            .where(RepTeam.rep_id.in_(ids))
            .order_by(RepTeam.team)
        ):
            teams[rep_id].append(team)
        for rep_id, language in await session.execute(
            select(RepLanguage.rep_id, RepLanguage.language)
            .where(RepLanguage.rep_id.in_(ids))
            .order_by(RepLanguage.language)
        ):
            languages[rep_id].append(language)
    return {i: Skills(tuple(teams[i]), tuple(languages[i])) for i in ids}


async def spoken_languages(session: AsyncSession) -> set[str]:
    """The languages some active rep speaks (whether at work now or not)."""
    rows = await session.scalars(
        select(RepLanguage.language)
        .join(Rep, Rep.id == RepLanguage.rep_id)
        .where(Rep.active.is_(True))
        .distinct()
    )
    return set(rows)


def clean_languages(languages: Sequence[str]) -> list[str]:
    """Language codes, lower-cased and checked: "en", "es", "fr", "ht", "nl", "pap", ..."""
    cleaned: list[str] = []
    for language in languages:
        code = language.strip().lower()
        if not LANGUAGE_CODE.fullmatch(code):
            raise Invalid(
                f"{language[:20]!r} is not a language code (two or three letters: en, fr, ht)."
            )
        if code not in cleaned:
            cleaned.append(code)
    return cleaned


async def rep_named(session: AsyncSession, username: str) -> Rep:
    name = username.strip().lower()
    # What no username can be (too long, NUL, spaces) is not looked up: no rep has it.
    rep = (
        await session.scalar(select(Rep).where(Rep.username == name))
        if USERNAME.fullmatch(name)
        else None
    )
    if rep is None:
        raise NotFound(f"There is no user named {username!r}.")
    return rep


async def set_skills(
    *,
    session: AsyncSession,
    rep: Rep,
    table: RoutingTable,
    actor: str,
    teams: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
) -> Skills:
    """Replace the rep's teams and/or languages (None leaves that one as it is); caller commits."""
    changes = []
    if teams is not None:
        try:
            keys = [table.check_team(team.strip().lower()) for team in teams]
        except RoutingTableError as error:
            raise Invalid(str(error)) from None
        await session.execute(delete(RepTeam).where(RepTeam.rep_id == rep.id))
        session.add_all(RepTeam(rep_id=rep.id, team=key) for key in dict.fromkeys(keys))
        changes.append(f"teams {', '.join(dict.fromkeys(keys)) or 'none'}")
    if languages is not None:
        codes = clean_languages(languages)
        await session.execute(delete(RepLanguage).where(RepLanguage.rep_id == rep.id))
        session.add_all(RepLanguage(rep_id=rep.id, language=code) for code in codes)
        changes.append(f"languages {', '.join(codes) or 'none'}")
    if changes:
        session.add(AuditEvent(actor=actor, reason=f"{rep.username}: {'; '.join(changes)}"))
    await session.flush()
    return (await skills_of(session, [rep.id]))[rep.id]


def set_capacity(
    session: AsyncSession, rep: Rep, *, actor: str, chat: int | None, messaging: int | None
) -> None:
    """Set the rep's own limits (0 goes back to the default); None leaves one as it is."""
    for name, value in (("chat", chat), ("messaging", messaging)):
        if value is None:
            continue
        if not 0 <= value <= MAX_CAPACITY:
            raise Invalid(f"A {name} limit is between 1 and {MAX_CAPACITY} (0: the default).")
        setattr(rep, f"max_{name}", value or None)
    if chat is not None or messaging is not None:
        session.add(
            AuditEvent(
                actor=actor,
                reason=f"{rep.username}: limits chat {rep.max_chat or 'default'}, "
                f"messaging {rep.max_messaging or 'default'}",
            )
        )


async def roster_view(session: AsyncSession, defaults: Capacity) -> list[RepRoutingPublic]:
    """Everyone with an account: teams, languages, limits, presence and what they hold now."""
    reps = list(await session.scalars(select(Rep).order_by(Rep.username)))
    skills = await skills_of(session, [r.id for r in reps])
    counts = await open_counts(session, [r.id for r in reps])
    views = []
    for rep in reps:
        limits = defaults.of(rep)
        holding = counts.get(rep.id, dict.fromkeys(ChannelKind, 0))
        views.append(
            RepRoutingPublic(
                id=rep.id,
                username=rep.username,
                display_name=rep.display_name,
                role=rep.role,
                active=rep.active,
                presence=rep.presence,
                last_seen_at=rep.last_seen_at,
                teams=list(skills[rep.id].teams),
                languages=list(skills[rep.id].languages),
                max_chat=limits.chat,
                max_messaging=limits.messaging,
                open_chat=holding[ChannelKind.CHAT],
                open_messaging=holding[ChannelKind.MESSAGING],
            )
        )
    return views


async def teams_view(session: AsyncSession, table: RoutingTable) -> list[TeamPublic]:
    """Each team of the routing table: members, available now, conversations waiting."""
    members: dict[str, int] = defaultdict(int)
    available: dict[str, int] = defaultdict(int)
    for team, presence in await session.execute(
        select(RepTeam.team, Rep.presence)
        .join(Rep, Rep.id == RepTeam.rep_id)
        .where(Rep.active.is_(True))
    ):
        members[team] += 1
        available[team] += presence == Presence.AVAILABLE
    waiting: dict[str, int] = defaultdict(int)
    for conversation_team, count in await session.execute(
        select(Conversation.team, func.count())
        .where(Conversation.state == ConversationState.QUEUED)
        .group_by(Conversation.team)
    ):
        waiting[table.team(conversation_team).key] += int(count)
    return [
        TeamPublic(
            key=team.key,
            name=team.name,
            auto_assign=team.auto_assign,
            members=members[team.key],
            available=available[team.key],
            waiting=waiting[team.key],
        )
        for team in table.teams.values()
    ]
