"""Command line: `python -m bot.cli …` (installed as `caricom`)."""

from __future__ import annotations

import os
import time

import httpx
import typer

from bot import assistant_model
from bot.settings import get_settings
from bot.store import migrate

app = typer.Typer(
    no_args_is_help=True,
    help="Caricom Connects intake assistant.",
    pretty_exceptions_show_locals=False,
)
db = typer.Typer(no_args_is_help=True, help="The store (database).")
model = typer.Typer(no_args_is_help=True, help="The trained Rasa model.")
app.add_typer(db, name="db")
app.add_typer(model, name="model")


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration the database is missing (DATABASE_URL)."""
    migrate.upgrade(get_settings().DATABASE_URL)
    typer.echo("Database schema is current.", err=True)


@model.command("ensure")
def model_ensure() -> None:
    """Train the assistant if data/, config.yml or domain.yml changed since the last model."""
    assistant_model.ensure_model()


@model.command("path")
def model_path() -> None:
    """Print the path of the model for the current training data."""
    typer.echo(assistant_model.model_path())


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


if __name__ == "__main__":
    app()
