"""`python -m gateway.cli user …`: create, list and deactivate reps, supervisors and admins;
`… rep …`: their teams, languages, limits and presence."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import get_settings
from bot.store.db import create_engine, create_session_factory
from bot.store.migrate import SchemaNotCurrent, ensure_schema_current
from bot.store.models import Presence, Rep, Role, utcnow
from handoff import accounts, roster
from handoff.capacity import Capacity
from handoff.errors import HandoffError
from handoff.passwords import check_password_strength
from handoff.presence import set_presence
from handoff.roster import Skills
from handoff.routing import RoutingTable, RoutingTableError, load_table

T = TypeVar("T")

users = typer.Typer(
    no_args_is_help=True,
    help="People who sign in to the console and API (reps, supervisors, admins).",
)


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` with a store session, turning refusals into a message and exit code 1."""

    async def main() -> T:
        engine = create_engine(get_settings().DATABASE_URL)
        try:
            await ensure_schema_current(engine)
            async with create_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (HandoffError, SchemaNotCurrent) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


def _read_password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(
            "Password (10 characters or more)", hide_input=True, confirmation_prompt=True
        )
    try:
        check_password_strength(password, username=username)
    except HandoffError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    return str(password)


@users.command("create")
def create(
    username: Annotated[str, typer.Argument(help="2-50 letters, digits, . _ -")],
    role: Annotated[Role, typer.Option(help="rep, supervisor or admin")] = Role.REP,
    name: Annotated[str | None, typer.Option(help="the name reps and customers see")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    team: Annotated[
        list[str] | None, typer.Option(help="a team they serve (repeat); default: the default team")
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option(help="a language they answer in (repeat); default: en")
    ] = None,
) -> None:
    """Add a person; the password is asked twice (or read from standard input)."""
    table = _table()
    try:
        accounts.check_username(username)
        teams = [table.check_team(t) for t in team or [table.default_team]]
        languages = roster.clean_languages(language or list(roster.NEW_REP_LANGUAGES))
    except HandoffError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    except RoutingTableError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    password = _read_password(username, password_stdin)
    rep = _run(
        lambda session: accounts.create_rep(
            session=session,
            username=username,
            display_name=name or username,
            role=role,
            password=password,
            teams=teams,
            languages=languages,
        )
    )
    typer.echo(f"Created {rep.role} {rep.username} ({rep.display_name}).", err=True)


@users.command("list")
def list_users() -> None:
    """Everyone who has an account, with role and whether they can sign in."""
    reps = _run(lambda session: accounts.list_reps(session=session))
    if not reps:
        typer.echo("No users yet: create the first admin with `user create NAME --role admin`.")
        return
    width = max(len(r.username) for r in reps)
    for rep in reps:
        state = "active" if rep.active else "deactivated"
        typer.echo(f"{rep.username:<{width}}  {rep.role:<10}  {state:<11}  {rep.display_name}")


@users.command("deactivate")
def deactivate(username: str) -> None:
    """Stop a person signing in; their open conversations go back to the queue."""
    rep, returned = _run(
        lambda session: accounts.deactivate_rep(session=session, username=username)
    )
    typer.echo(
        f"Deactivated {rep.username}; {returned} conversation(s) went back to the queue.", err=True
    )


reps = typer.Typer(
    no_args_is_help=True,
    help="What reps serve: teams, languages, limits of open conversations, presence.",
)


def _table() -> RoutingTable:
    try:
        return load_table(get_settings().ROUTING_TABLE_PATH)
    except RoutingTableError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


def _describe(rep: Rep, skills: Skills, defaults: Capacity) -> str:
    limits = defaults.of(rep)
    state = str(rep.presence) if rep.active else "deactivated"
    return (
        f"{rep.username}  {state}  teams: {', '.join(skills.teams) or '-'}  "
        f"languages: {', '.join(skills.languages) or '-'}  "
        f"limits: chat {limits.chat}, messaging {limits.messaging}"
    )


def _show(username: str) -> None:
    settings = get_settings()
    defaults = Capacity(chat=settings.REP_MAX_CHAT, messaging=settings.REP_MAX_MESSAGING)

    async def work(session: AsyncSession) -> str:
        rep = await roster.rep_named(session, username)
        skills = (await roster.skills_of(session, [rep.id]))[rep.id]
        return _describe(rep, skills, defaults)

    typer.echo(_run(work))


@reps.command("show")
def show(username: Annotated[str | None, typer.Argument()] = None) -> None:
    """Teams, languages, limits and presence of one rep, or of everyone."""
    if username is not None:
        _show(username)
        return
    settings = get_settings()
    defaults = Capacity(chat=settings.REP_MAX_CHAT, messaging=settings.REP_MAX_MESSAGING)

    async def work(session: AsyncSession) -> list[str]:
        people = await accounts.list_reps(session=session)
        skills = await roster.skills_of(session, [r.id for r in people])
        return [_describe(rep, skills[rep.id], defaults) for rep in people]

    for line in _run(work):
        typer.echo(line)


def _set_skills(username: str, **change: list[str]) -> None:
    table = _table()

    async def work(session: AsyncSession) -> None:
        rep = await roster.rep_named(session, username)
        await roster.set_skills(session=session, rep=rep, table=table, actor="cli", **change)
        await session.commit()

    _run(work)
    _show(username)


@reps.command("teams")
def teams(
    username: str,
    team: Annotated[list[str], typer.Argument(help="team keys from the routing table")],
) -> None:
    """Put a rep in these teams (replacing the ones they had)."""
    _set_skills(username, teams=team)


@reps.command("languages")
def languages(
    username: str,
    language: Annotated[list[str], typer.Argument(help="language codes: en es fr ht nl ...")],
) -> None:
    """The languages a rep answers customers in (replacing the ones they had)."""
    _set_skills(username, languages=language)


@reps.command("limits")
def limits(
    username: str,
    chat: Annotated[
        int | None, typer.Option(help="web chat conversations at once; 0: default")
    ] = None,
    messaging: Annotated[
        int | None,
        typer.Option(help="SMS, WhatsApp and Telegram conversations at once; 0: default"),
    ] = None,
) -> None:
    """Most conversations a rep holds at once, per channel kind."""

    async def work(session: AsyncSession) -> None:
        rep = await roster.rep_named(session, username)
        roster.set_capacity(session, rep, actor="cli", chat=chat, messaging=messaging)
        await session.commit()

    _run(work)
    _show(username)


@reps.command("presence")
def presence(
    username: str, value: Annotated[Presence, typer.Argument(help="available, busy or away")]
) -> None:
    """Set a rep's presence (as the console's toggle does)."""

    async def work(session: AsyncSession) -> None:
        rep = await roster.rep_named(session, username)
        set_presence(session, rep, value, actor="cli", now=utcnow())
        await session.commit()

    _run(work)
    _show(username)
