"""languages: each customer message's detected language and the conversation's language

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 19:10:00.000000
"""

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no backfill: conversations from before are undecided (their next message
    # decides) and their old messages were never detected.
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=12), nullable=True))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=12), nullable=True))


def downgrade() -> None:
    for table in ('messages', 'conversations'):
        _drop_language(table)


def _drop_language(table: str) -> None:
    # A plain DROP COLUMN where the engine has one (PostgreSQL, SQLite 3.35+): batch mode
    # copies the table, which SQLite refuses for `conversations` once messages refer to it.
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
    else:
        op.drop_column(table, 'language')
