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
from bot.webchat_address import webchat_address as hashed_address


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


async def test_web_chat_conversations_from_before_get_a_label_and_their_address_hashed(
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
    # The customer's browser still holds the id; the store, since 0017, its hash.
    assert webchat_address == hashed_address("f00d-legacy")
    assert re.fullmatch(r"Web visitor [0-9A-F]{4}", label)
    assert (sms_address, no_label) == ("+1246", None)


async def test_people_and_waiting_conversations_from_before_teams_serve_the_general_team(
    database_url: str,
) -> None:
    # The store as it was before teams, languages and presence: a rep, a waiting conversation
    # and one the bot has. Alembic's env runs its own event loop: in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0013-1").result()
    engine = create_engine(database_url)
    now = utcnow()
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO reps (id, username, display_name, role, password_hash, active, "
                "failed_logins, created_at) VALUES (1, 'ann', 'Ann', 'rep', 'x', true, 0, :now)"
            ),
            {"now": now},
        )
        for conversation_id, state in ((1, "queued"), (2, "bot")):
            await connection.execute(
                text("INSERT INTO contacts (id, created_at) VALUES (:id, :now)"),
                {"id": conversation_id, "now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO conversations (id, contact_id, channel, address, state, "
                    "escalated, queue_notice_sent, created_at, updated_at) VALUES "
                    "(:id, :id, 'sms', :address, :state, false, false, :now, :now)"
                ),
                {
                    "id": conversation_id,
                    "address": f"+1246{conversation_id}",
                    "state": state,
                    "now": now,
                },
            )
    upgrade(database_url)
    async with engine.connect() as connection:
        teams = (await connection.execute(text("SELECT rep_id, team FROM rep_teams"))).all()
        languages = (
            await connection.execute(text("SELECT rep_id, language FROM rep_languages"))
        ).all()
        rep = (await connection.execute(text("SELECT presence, away_auto FROM reps"))).one()
        conversations = (
            await connection.execute(text("SELECT id, team FROM conversations ORDER BY id"))
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in teams] == [(1, "general")]
    assert [tuple(r) for r in languages] == [(1, "en")]
    # Away until their console opens (then available at once).
    assert (rep[0], bool(rep[1])) == ("away", True)
    assert [tuple(r) for r in conversations] == [(1, "general"), (2, None)]


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


async def test_logged_interactions_and_contact_emails_come_and_go_with_their_migration(
    database_url: str,
) -> None:
    # A customer from before, kept through the upgrade; the downgrade leaves them as they were.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0013").result()
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO contacts (id, phone, created_at) VALUES (1, '+1246', :now)"),
            {"now": utcnow()},
        )
        await connection.execute(
            text(
                "INSERT INTO conversations (id, contact_id, channel, address, state, escalated, "
                "queue_notice_sent, created_at, updated_at) VALUES "
                "(1, 1, 'sms', '+1246', 'bot', false, false, :now, :now)"
            ),
            {"now": utcnow()},
        )
    upgrade(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE contacts SET email = 'k@example.com' WHERE id = 1"))
        await connection.execute(
            text(
                "INSERT INTO reps (id, username, display_name, role, password_hash, active, "
                "failed_logins, created_at) VALUES (1, 'ann', 'Ann', 'rep', 'x', true, 0, :now)"
            ),
            {"now": utcnow()},
        )
        await connection.execute(
            text(
                "INSERT INTO logged_interactions (contact_id, channel, direction, occurred_at, "
                "nature_of_inquiry, actions_taken, follow_up_required, rep_id, created_at) "
                "VALUES (1, 'phone', 'inbound', :now, 'track_order', 'told them', false, 1, :now)"
            ),
            {"now": utcnow()},
        )
    # One email, one customer.
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO contacts (id, email, created_at) VALUES (2, 'k@example.com', :now)"
                ),
                {"now": utcnow()},
            )
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM logged_interactions"))
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0013").result()
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, phone FROM contacts"))).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "+1246")]
    upgrade(database_url)  # and back up, for whoever uses the store next


async def test_clocks_revision_keeps_sent_replies_accepted_and_handoffs_in_the_default_team(
    database_url: str,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0011").result()
    engine = create_engine(database_url)
    now = utcnow()
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO contacts (id, created_at) VALUES (1, :now)"), {"now": now}
        )
        await connection.execute(
            text(
                "INSERT INTO conversations (id, contact_id, channel, address, state, escalated, "
                "queue_notice_sent, created_at, updated_at) VALUES "
                "(1, 1, 'sms', '+1876', 'assigned', true, false, :now, :now)"
            ),
            {"now": now},
        )
        await connection.execute(
            text("INSERT INTO handoffs (id, conversation_id, requested_at) VALUES (1, 1, :now)"),
            {"now": now},
        )
        for message_id, status in ((1, "sent"), (2, "pending")):
            await connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, channel, direction, sender_kind, "
                    "text, route_attempts, created_at) VALUES "
                    "(:id, 1, 'sms', 'outbound', 'rep', 'hi', 0, :now)"
                ),
                {"id": message_id, "now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO deliveries (id, message_id, conversation_id, channel, address, "
                    "body, status, attempts, in_doubt, created_at, updated_at) VALUES "
                    "(:id, :id, 1, 'sms', '+1876', '{}', :status, 1, false, :now, :now)"
                ),
                {"id": message_id, "status": status, "now": now},
            )
    upgrade(database_url)
    async with engine.connect() as connection:
        accepted = (
            await connection.execute(
                text("SELECT status, accepted_at IS NOT NULL FROM deliveries ORDER BY id")
            )
        ).all()
        team = await connection.scalar(text("SELECT team FROM handoffs WHERE id = 1"))
        windows = await connection.scalar(text("SELECT count(*) FROM response_windows"))
    await engine.dispose()
    assert [(status, bool(known)) for status, known in accepted] == [
        ("sent", True),
        ("pending", False),
    ]
    assert team == "general" and windows == 0


async def test_episodes_come_and_go_with_their_migration_and_one_is_open_at_a_time(
    database_url: str,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(command.downgrade, alembic_config(database_url), "0015").result()
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
