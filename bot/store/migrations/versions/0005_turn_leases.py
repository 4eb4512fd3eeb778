"""turn leases: a customer message is claimed by one gateway instance while it is routed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:13:13.226683
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # turn_status is a plain string column (no native enum, no CHECK): the new value "routing"
    # needs no change; only the lease time is added.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn_lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Earlier code knows only "pending" and "done": claims in flight go back to pending.
    op.execute("UPDATE messages SET turn_status = 'pending' WHERE turn_status = 'routing'")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('turn_lease_until')
