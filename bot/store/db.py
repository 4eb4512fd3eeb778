"""Engine and sessions for the store: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.settings import async_database_url


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for `database_url`, tuned for its dialect.

    `hide_parameters`: database errors would otherwise quote their parameters, which here are
    customers' words, into logs.
    """
    database_url = async_database_url(database_url)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(database_url)
    # No pre-ping: it would cost a round trip on every unit of work. After a database restart
    # the first use of a dead connection fails (webhooks answer 503, the vendor retries) and
    # the pool drops its old connections; recycling bounds their age.
    return create_async_engine(
        database_url, pool_size=10, max_overflow=20, pool_recycle=1800, hide_parameters=True
    )


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    database = make_url(database_url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode survives a
        # process crash (every committed transaction is in the log) without an fsync per commit.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the store cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
