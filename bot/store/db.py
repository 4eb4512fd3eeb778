"""Engine and sessions for the store: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.settings import async_database_url
from bot.store.sqlite_driver import one_trip_dbapi


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for `database_url`, tuned for its dialect.

    `hide_parameters`: database errors would otherwise quote their parameters, which here are
    customers' words, into logs.
    """
    database_url = async_database_url(database_url)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(database_url)
    # No pre-ping: it would cost a round trip on every unit of work. A connection the server
    # closed (a restart, an administrator ending it, an idle timeout) is known closed to
    # asyncpg already, so checkout drops it for free instead; recycling bounds the age of the
    # rest. One that died silently (the network, not the server) still fails its first use.
    engine = create_async_engine(
        database_url, pool_size=10, max_overflow=20, pool_recycle=1800, hide_parameters=True
    )
    if url.get_driver_name() == "asyncpg":
        event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Make the pool replace a pooled connection the server has closed since it was pooled.

    Without this, the first unit of work after a database restart gets a dead connection and
    fails (a webhook would answer 503 though the store is back). One closed connection means
    the server went away, so every connection pooled before it is replaced too.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise InvalidatePoolError("the server closed this pooled connection")


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    database = make_url(database_url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        database_url,
        connect_args={"timeout": 30},
        hide_parameters=True,
        module=one_trip_dbapi(),  # one thread hop a statement (bot/store/sqlite_driver.py)
    )

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


@asynccontextmanager
async def reading(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for a lookup of one statement, which needs no transaction around it.

    On PostgreSQL it runs outside one (autocommit, set on the client: no round trip), which
    saves the BEGIN and the ROLLBACK a transaction would cost: three round trips become one.
    On SQLite, where switching a connection's mode is a call of its own, it is an ordinary
    session.
    """
    async with session_factory() as session:
        bind = session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


async def ping(engine: AsyncEngine) -> None:
    """Raise if the store cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
