"""Rasa's SQLite tracker store runs in WAL mode once the gateway channel is loaded."""

import asyncio
import sqlite3
import tempfile
import unittest
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import connectors.gateway  # noqa: F401 (installs the pragmas, as Rasa's loading does)


class TrackerStorePragmasTest(unittest.TestCase):
    def test_the_sqlite_tracker_store_writes_ahead_and_keeps_what_it_saves(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tracker.db"
            store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
            with store.engine.connect() as connection:
                synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            self.assertEqual(synchronous, 1)  # NORMAL
            tracker = DialogueStateTracker.from_events("customer-1", [UserUttered("hello")])
            asyncio.run(store.save(tracker))
            store.engine.dispose()
            # Another process (a backup, an export) sees the WAL mode and the saved event.
            with sqlite3.connect(path) as reader:
                self.assertEqual(reader.execute("PRAGMA journal_mode").fetchone()[0], "wal")
                self.assertEqual(reader.execute("SELECT count(*) FROM events").fetchone()[0], 1)


if __name__ == "__main__":
    unittest.main()
