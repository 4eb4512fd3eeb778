"""Rasa's SQLite tracker store in write-ahead-log mode.

Rasa 3.6 opens its SQLite tracker store with SQLite's defaults: a rollback journal and a
flush to disk on every commit. The store is written once per turn, from the event loop that
serves every customer, so each flush held up all of them: 7 % of the Rasa server's busy time
under `make bench`. The gateway's own SQLite store has long used WAL with synchronous=NORMAL
(bot/store/db.py); Rasa's now does too. A commit is then safe from a crash of any process;
only a power cut can lose the last turns' dialogue state, which is Rasa's own (the customer
record lives in the gateway's store).

`install()` runs when Rasa loads the gateway channel (connectors/gateway.py), before Rasa
creates its tracker store; PostgreSQL stores are left alone.
"""

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _on_connect(connection: Any, _record: Any) -> None:
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def install() -> None:
    """Every SQLite connection Rasa's SQLAlchemy engines open gets WAL and synchronous=NORMAL."""
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)
