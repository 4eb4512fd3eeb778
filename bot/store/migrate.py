"""Schema migrations (Alembic) and the start-up check that the schema is current."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaNotCurrent(RuntimeError):
    """The database is missing migrations; the gateway refuses to start on it."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision` (blocking).

    Alembic's env runs the async engine with `asyncio.run`, so it gets a thread of its own: this
    works from the CLI and from code that already runs an event loop.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.upgrade, alembic_config(database_url), revision).result()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


async def ensure_schema_current(engine: AsyncEngine) -> None:
    """Raise `SchemaNotCurrent` with the command that fixes it, unless the schema is at head."""
    try:
        async with engine.connect() as connection:
            current = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
    except DBAPIError:
        current = None
    if current != head_revision():
        raise SchemaNotCurrent(
            f"the database schema is at {current or 'nothing'}, not {head_revision()}: "
            "run `make db-upgrade` (or `python -m gateway.cli db upgrade`) first"
        )
