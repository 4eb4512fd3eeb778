"""Command line: `python -m bot.cli …` (installed as `caricom`)."""

from __future__ import annotations

import typer

from bot import assistant_model
from bot.settings import get_settings
from bot.store import migrate

app = typer.Typer(
    no_args_is_help=True, help="Caricom Connects intake assistant.", pretty_exceptions_show_locals=False
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


if __name__ == "__main__":
    app()
