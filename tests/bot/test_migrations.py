from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.db import create_engine
from bot.store.migrate import SchemaNotCurrent, ensure_schema_current, upgrade


async def test_an_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaNotCurrent, match="make db-upgrade"):
        await ensure_schema_current(engine)
    await engine.dispose()


async def test_migrations_reach_head(database_url: str) -> None:
    # The fixture ran every migration; running again is a no-op.
    upgrade(database_url)
    engine = create_engine(database_url)
    await ensure_schema_current(engine)
    await engine.dispose()
