"""`python -m gateway.cli user …`: create, list and deactivate reps, supervisors and admins."""

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
from bot.store.models import Role
from handoff import accounts
from handoff.errors import HandoffError
from handoff.passwords import check_password_strength

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
) -> None:
    """Add a person; the password is asked twice (or read from standard input)."""
    try:
        accounts.check_username(username)
    except HandoffError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    password = _read_password(username, password_stdin)
    rep = _run(
        lambda session: accounts.create_rep(
            session=session,
            username=username,
            display_name=name or username,
            role=role,
            password=password,
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
