from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.store.db import create_engine
from bot.store.migrate import SchemaNotCurrent, alembic_config, ensure_schema_current, upgrade
from bot.store.models import utcnow


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


async def test_web_chat_conversations_from_before_get_a_label_and_keep_their_address(
    database_url: str,
) -> None:
    # The store as it was before session ids were issued, with a web chat and an SMS customer.
    # Alembic's env runs its own event loop: in a thread of its own, as upgrade() does.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0007").result()
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        for contact_id, channel, address in ((1, "webchat", "f00d-legacy"), (2, "sms", "+1246")):
            await connection.execute(
                text("INSERT INTO contacts (id, created_at) VALUES (:id, :now)"),
                {"id": contact_id, "now": utcnow()},
            )
            await connection.execute(
                text(
                    "INSERT INTO conversations (id, contact_id, channel, address, state, "
                    "escalated, queue_notice_sent, created_at, updated_at) VALUES "
                    "(:id, :id, :channel, :address, 'bot', false, false, :now, :now)"
                ),
                {"id": contact_id, "channel": channel, "address": address, "now": utcnow()},
            )
    upgrade(database_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT address, address_label FROM conversations ORDER BY id")
            )
        ).all()
    await engine.dispose()
    (webchat_address, label), (sms_address, no_label) = rows
    assert webchat_address == "f00d-legacy"  # the customer's browser still holds it
    assert re.fullmatch(r"Web visitor [0-9A-F]{4}", label)
    assert (sms_address, no_label) == ("+1246", None)


async def test_conversations_and_messages_from_before_have_no_language_yet(
    database_url: str,
) -> None:
    # The store before languages were stored: a conversation with one customer message.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0008").result()
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO contacts (id, created_at) VALUES (1, :now)"), {"now": utcnow()}
        )
        await connection.execute(
            text(
                "INSERT INTO conversations (id, contact_id, channel, address, state, escalated, "
                "queue_notice_sent, created_at, updated_at) VALUES "
                "(1, 1, 'sms', '+1246', 'bot', false, false, :now, :now)"
            ),
            {"now": utcnow()},
        )
        await connection.execute(
            text(
                "INSERT INTO messages (id, conversation_id, channel, direction, sender_kind, "
                "text, route_attempts, created_at) VALUES "
                "(1, 1, 'sms', 'inbound', 'customer', 'hola', 0, :now)"
            ),
            {"now": utcnow()},
        )
    upgrade(database_url)
    async with engine.begin() as connection:
        before = (
            await connection.execute(
                text(
                    "SELECT c.language, m.language, m.text FROM conversations c "
                    "JOIN messages m ON m.conversation_id = c.id"
                )
            )
        ).one()
        # Undecided, and never detected: the next message decides.
        assert tuple(before) == (None, None, "hola")
        await connection.execute(text("UPDATE conversations SET language = 'pap' WHERE id = 1"))
        await connection.execute(text("UPDATE messages SET language = 'und' WHERE id = 1"))
        after = (
            await connection.execute(
                text(
                    "SELECT c.language, m.language FROM conversations c "
                    "JOIN messages m ON m.conversation_id = c.id"
                )
            )
        ).one()
    assert tuple(after) == ("pap", "und")
    # And back down: the columns go, the rows stay.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0008").result()
    async with engine.connect() as connection:
        kept = (await connection.execute(text("SELECT text FROM messages"))).scalar_one()
    await engine.dispose()
    assert kept == "hola"


async def test_episodes_come_and_go_with_their_migration_and_one_is_open_at_a_time(
    database_url: str,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0009").result()
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: sa_inspect(c).get_table_names())
    assert "episodes" not in tables
    upgrade(database_url)
    now = utcnow()
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO contacts (id, created_at) VALUES (1, :now)"), {"now": now}
        )
        await connection.execute(
            text(
                "INSERT INTO conversations (id, contact_id, channel, address, state, escalated, "
                "queue_notice_sent, created_at, updated_at) VALUES "
                "(1, 1, 'sms', '+1246', 'bot', false, false, :now, :now)"
            ),
            {"now": now},
        )
    episode = text(
        "INSERT INTO episodes (conversation_id, contact_id, started_at, last_activity_at, "
        "outcome, closed_at) VALUES (1, 1, :now, :now, :outcome, :closed)"
    )
    async with engine.begin() as connection:
        for _ in range(2):  # closed episodes: as many as there were
            await connection.execute(episode, {"now": now, "outcome": "answered", "closed": now})
        await connection.execute(episode, {"now": now, "outcome": "open", "closed": None})
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(episode, {"now": now, "outcome": "open", "closed": None})
    await engine.dispose()
