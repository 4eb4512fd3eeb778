"""conversations.code_expected_until: the assistant asked for a one-time code

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-29 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_expected_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (PostgreSQL, SQLite 3.35+): batch mode copies the table, which
    # SQLite refuses for `conversations` once other tables refer to it.
    op.drop_column('conversations', 'code_expected_until')
