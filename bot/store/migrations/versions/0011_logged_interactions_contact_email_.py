"""logged phone calls and emails, a contact's email, the note of a follow-up done

Revision ID: 0011
Revises: 0013
Create Date: 2026-11-29 19:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.create_index('uq_contacts_email', ['email'], unique=True)
    with op.batch_alter_table('wrap_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_note', sa.Text(), nullable=True))
    op.create_table(
        'logged_interactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Enum('phone', 'email', name='interactionchannel', native_enum=False, length=20), nullable=False),
        sa.Column('direction', sa.Enum('inbound', 'outbound', name='direction', native_enum=False, length=20), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('nature_of_inquiry', sa.String(length=100), nullable=False),
        sa.Column('actions_taken', sa.Text(), nullable=False),
        sa.Column('follow_up_required', sa.Boolean(), nullable=False),
        sa.Column('follow_up_due', sa.Date(), nullable=True),
        sa.Column('follow_up_owner_id', sa.Integer(), nullable=True),
        sa.Column('rep_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
        sa.ForeignKeyConstraint(['follow_up_owner_id'], ['reps.id'], ),
        sa.ForeignKeyConstraint(['rep_id'], ['reps.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('logged_interactions', schema=None) as batch_op:
        batch_op.create_index('ix_logged_interaction_contact', ['contact_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_logged_interaction_occurred', ['occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('logged_interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_logged_interaction_occurred')
        batch_op.drop_index('ix_logged_interaction_contact')
    op.drop_table('logged_interactions')
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ has it): a batch would rebuild these
    # tables, and SQLite refuses to drop a table other rows still refer to.
    op.drop_index('uq_contacts_email', table_name='contacts')
    op.execute('ALTER TABLE wrap_ups DROP COLUMN follow_up_note')
    op.execute('ALTER TABLE contacts DROP COLUMN email')
