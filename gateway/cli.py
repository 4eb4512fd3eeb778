"""Command line: `python -m gateway.cli …` (installed as `caricom`)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import httpx
import typer

from bot import assistant_model
from bot.settings import Settings, get_settings
from bot.store import migrate
from handoff.cli import reps, users

if TYPE_CHECKING:
    from channels.telegram.client import TelegramClient

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    help="Caricom Connects intake assistant.",
    pretty_exceptions_show_locals=False,
)
db = typer.Typer(no_args_is_help=True, help="The store (database).")
model = typer.Typer(no_args_is_help=True, help="The trained Rasa model.")
app.add_typer(db, name="db")
app.add_typer(model, name="model")
app.add_typer(users, name="user")
app.add_typer(reps, name="rep")
telegram = typer.Typer(no_args_is_help=True, help="The Telegram channel: webhook and polling.")
app.add_typer(telegram, name="telegram")
data = typer.Typer(no_args_is_help=True, help="Customer data: retention.")
app.add_typer(data, name="data")
DAY = "%Y-%m-%d"


@app.command("export")
def export_records(
    out: Annotated[Path, typer.Option("--out", help="File to write ('-': standard output).")],
    export_format: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "csv",
    start: Annotated[datetime | None, typer.Option(formats=[DAY], help="First day (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(formats=[DAY], help="Last day (UTC).")] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="conversations (one row per conversation last active in the range) or "
            "episodes (one per handoff or bot-only episode started in it)",
        ),
    ] = "conversations",
) -> None:
    """Export interaction records, per conversation or per episode, streamed."""
    from handoff.oversight_cli import export_to

    count = export_to(get_settings(), out, export_format, start, end, kind=kind)
    typer.echo(f"Exported {count} {kind} to {out}.", err=True)


@data.command("purge")
def data_purge(
    older_than_days: int | None = typer.Option(
        None, min=1, help="Purge conversations inactive this long (default: RETENTION_DAYS)."
    ),
    dry_run: bool = typer.Option(False, help="Only count what would be purged."),
) -> None:
    """Purge conversations (and their messages, notes, wrap-ups …) inactive for N days."""
    from handoff.oversight_cli import purge

    typer.echo(purge(get_settings(), older_than_days, dry_run=dry_run), err=True)


customer = typer.Typer(no_args_is_help=True, help="One customer's data, on their request.")
data.add_typer(customer, name="customer")


@customer.command("export")
def customer_export(
    contact: str = typer.Argument(help="contact id, phone (+1246…) or channel:address"),
) -> None:
    """Print everything held about one customer (store and Rasa's tracker) as JSON."""
    from handoff.oversight_cli import customer as run

    typer.echo(run(get_settings(), contact, erase=False))


@customer.command("erase")
def customer_erase(
    contact: str = typer.Argument(help="contact id, phone (+1246…) or channel:address"),
) -> None:
    """Erase one customer from the store and Rasa's tracker store (an audit event records it)."""
    from handoff.oversight_cli import customer as run

    typer.echo(run(get_settings(), contact, erase=True))


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration the database is missing (DATABASE_URL)."""
    migrate.upgrade(get_settings().DATABASE_URL)
    typer.echo("Database schema is current.", err=True)


@db.command("create")
def db_create() -> None:
    """Create the PostgreSQL database named in DATABASE_URL, if it does not exist yet."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(get_settings().DATABASE_URL)
    if not url.drivername.startswith("postgresql"):
        typer.echo("DATABASE_URL is not PostgreSQL: nothing to create.", err=True)
        return
    name = url.database
    if not name:
        raise typer.BadParameter("DATABASE_URL names no database")
    server = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(
        server.render_as_string(hide_password=False), autocommit=True
    ) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if found is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    typer.echo(f"Database {name} {'exists' if found else 'created'}.", err=True)


@model.command("ensure")
def model_ensure() -> None:
    """Train the assistant if data/, config.yml or domain.yml changed since the last model."""
    assistant_model.ensure_model()


@model.command("path")
def model_path() -> None:
    """Print the path of the model for the current training data."""
    typer.echo(assistant_model.model_path())


@app.command("worker")
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve this worker's counters on 127.0.0.1:PORT."),
    ] = None,
) -> None:
    """Route SMS, WhatsApp and Telegram turns taken from the store (TURNS_IN_WORKERS=true)."""
    from gateway.worker import run_worker

    settings = get_settings()
    if not settings.TURNS_IN_WORKERS:
        typer.echo(
            "caricom worker: set TURNS_IN_WORKERS=true (and REDIS_URL) for the gateways and the "
            "workers alike; without it the gateways route every turn themselves.",
            err=True,
        )
        raise typer.Exit(2)
    asyncio.run(run_worker(settings, metrics_port=metrics_port))


@app.command("announce")
def announce(timeout: float = 300.0) -> None:
    """Wait until the gateway is ready (store and assistant), then print where to find it."""
    settings = get_settings()
    port = os.environ.get("GATEWAY_PORT", "8000")
    local = f"http://localhost:{port}"
    deadline = time.monotonic() + timeout
    status = "not started"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{local}/readyz", timeout=2.0)
            status = str(response.json().get("checks", response.status_code))
            if response.status_code == 200:
                typer.echo(
                    "\n  Caricom Connects assistant is ready.\n"
                    f"    Web chat demo:   {local}/\n"
                    f"    API docs:        {local}/docs\n"
                    f"    Health:          {local}/healthz   {local}/readyz\n"
                    f"    Rasa server:     {settings.RASA_URL}\n"
                    "  Press Ctrl-C to stop everything.\n"
                )
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    typer.echo(
        f"The gateway was not ready after {timeout:.0f} s (last status: {status}).", err=True
    )
    raise typer.Exit(1)


# Telegram ------------------------------------------------------------------------------------
# The gateway's modules are imported inside these commands: loading them takes about a second,
# which every other command (run by `make` on each start) would pay for nothing.

# What Telegram accepts as a webhook secret token.
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _telegram_settings() -> Settings:
    settings = get_settings()
    if not settings.TELEGRAM_BOT_TOKEN:
        typer.echo(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token "
            "in the environment or .env.",
            err=True,
        )
        raise typer.Exit(2)
    return settings


def _ask_telegram(settings: Settings, call: Callable[[TelegramClient], Awaitable[T]]) -> T:
    """Run one Bot API call; a refusal is printed (without the token) and exits 1."""
    from telegram.error import TelegramError

    from channels.telegram.client import TelegramClient

    async def run() -> T:
        client = TelegramClient(
            token=settings.TELEGRAM_BOT_TOKEN, api_base_url=settings.TELEGRAM_API_BASE_URL
        )
        try:
            return await call(client)
        except TelegramError as error:
            typer.echo(f"Telegram refused: {client.redact(error)}", err=True)
            raise typer.Exit(1) from None
        finally:
            await client.close()

    return asyncio.run(run())


@telegram.command("set-webhook")
def telegram_set_webhook(
    drop_pending_updates: bool = typer.Option(
        False, help="Forget updates Telegram holds for the bot instead of delivering them."
    ),
) -> None:
    """Point Telegram at PUBLIC_BASE_URL/channels/telegram/webhook, with the secret token."""
    from channels.telegram import ALLOWED_UPDATES, WEBHOOK_PATH

    settings = _telegram_settings()
    secret = settings.TELEGRAM_SECRET_TOKEN
    if not _TELEGRAM_SECRET.match(secret):
        typer.echo(
            "TELEGRAM_SECRET_TOKEN must be set to 1-256 characters of A-Z, a-z, 0-9, _ and - "
            "(for example the output of `python -c 'import secrets; print(secrets.token_urlsafe"
            "(32))'`): the gateway refuses updates that do not carry it.",
            err=True,
        )
        raise typer.Exit(2)
    url = f"{settings.PUBLIC_BASE_URL}{WEBHOOK_PATH}"
    _ask_telegram(
        settings,
        lambda client: client.bot.set_webhook(
            url=url,
            secret_token=secret,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending_updates,
        ),
    )
    typer.echo(f"Telegram will deliver {', '.join(ALLOWED_UPDATES)} updates to {url}", err=True)


@telegram.command("delete-webhook")
def telegram_delete_webhook() -> None:
    """Stop webhook delivery (needed before `telegram poll`); pending updates are kept."""
    settings = _telegram_settings()
    _ask_telegram(settings, lambda client: client.bot.delete_webhook())
    typer.echo("Webhook removed: Telegram holds updates until they are fetched.", err=True)


@telegram.command("poll")
def telegram_poll(
    timeout: int = typer.Option(30, min=1, max=50, help="Long-poll seconds per getUpdates."),
) -> None:
    """Fetch updates with getUpdates and answer them, for development without a public URL.

    Uses the configured database and Rasa, and the webhook's own processing; Ctrl-C stops it.
    """
    from bot.logs import configure_logging
    from bot.store.migrate import SchemaNotCurrent
    from channels.telegram import PollingStopped
    from channels.telegram.client import TelegramUnavailable

    settings = _telegram_settings()
    configure_logging(settings.LOG_LEVEL)
    try:
        asyncio.run(_poll_telegram(settings, timeout))
    except KeyboardInterrupt:
        typer.echo("Stopped.", err=True)
    except (PollingStopped, SchemaNotCurrent, TelegramUnavailable) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


async def _poll_telegram(settings: Settings, long_poll_seconds: int) -> None:
    import socketio

    from bot.store.migrate import ensure_schema_current
    from channels.telegram import TelegramChannel, poll_updates
    from gateway.services import build_services

    services = build_services(settings, socketio.AsyncServer(async_mode="asgi"))
    telegram = services.channel("telegram")
    assert isinstance(telegram, TelegramChannel) and telegram.bot is not None  # the token is set
    channel = telegram.bot
    try:
        await ensure_schema_current(services.engine)
        # As the gateway does: send retries when due, answer what a crash left unanswered.
        services.spawn(services.outbox.run(), name="outbox")
        for conversation_id in await services.router.pending_conversations():
            services.inbox.route_later(conversation_id)
        me = await channel.client.me()
        typer.echo(f"Polling Telegram as @{me.username}. Press Ctrl-C to stop.", err=True)
        await poll_updates(
            channel,
            report=lambda line: typer.echo(line, err=True),
            long_poll_seconds=long_poll_seconds,
        )
    finally:
        await services.close()


if __name__ == "__main__":
    app()
