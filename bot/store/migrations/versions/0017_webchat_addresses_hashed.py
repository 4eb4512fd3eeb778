"""web chat addresses hashed: conversations and deliveries hold the session id's SHA-256

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 23:00:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot/webchat_address.py, copied: a migration must not change when the code does.
PREFIX = 's256:'


def _hashed(session_id: str) -> str:
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def upgrade() -> None:
    # The session ids themselves leave the store; a customer who comes back presents the id,
    # and the gateway finds the conversation by its hash. Irreversible by design: downgrade
    # leaves the hashes (a gateway of before would answer returning customers with a new id).
    connection = op.get_bind()
    for table in ('conversations', 'deliveries'):
        rows = sa.table(table, sa.column('id', sa.Integer), sa.column('channel', sa.String),
                        sa.column('address', sa.String))
        found = connection.execute(
            sa.select(rows.c.id, rows.c.address).where(
                rows.c.channel == 'webchat', ~rows.c.address.startswith(PREFIX)
            )
        ).all()
        for row_id, address in found:
            connection.execute(
                rows.update().where(rows.c.id == row_id).values(address=_hashed(address))
            )


def downgrade() -> None:
    pass
