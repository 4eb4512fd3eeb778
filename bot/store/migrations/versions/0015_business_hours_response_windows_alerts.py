"""business-hour clocks: response windows, channel acceptance of replies, handoff team and
resolution due time; supervisor alerts and their outbox

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-29 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
    # Replies sent before this revision: acceptance is best known as their last change.
    deliveries = sa.table(
        'deliveries',
        sa.column('status', sa.String),
        sa.column('accepted_at', sa.DateTime(timezone=True)),
        sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    op.execute(
        deliveries.update()
        .where(deliveries.c.status.in_(['sent', 'delivered']))
        .values(accepted_at=deliveries.c.updated_at)
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('team', sa.String(length=50), nullable=False, server_default='general')
        )
        batch_op.add_column(sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution_business_seconds', sa.Float(), nullable=True))
    op.create_table(
        'response_windows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('first', 'next', name='responsekind', native_enum=False, length=20), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('opened_by_message_id', sa.Integer(), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('at_risk_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_by_message_id', sa.Integer(), nullable=True),
        sa.Column('business_seconds', sa.Float(), nullable=True),
        sa.Column('at_risk_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id']),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.ForeignKeyConstraint(['opened_by_message_id'], ['messages.id']),
        sa.ForeignKeyConstraint(['answered_by_message_id'], ['messages.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('handoff_id', 'kind', 'opened_at', name='uq_response_window_opening'),
    )
    op.create_index('ix_response_windows_handoff_id', 'response_windows', ['handoff_id'])
    op.create_index('ix_response_window_open', 'response_windows', ['answered_at', 'conversation_id'])
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'kind',
            sa.Enum('at_risk', 'breached', 'follow_up_overdue', 'language_unserved', name='alertkind', native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column('subject', sa.String(length=60), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'subject', name='uq_alert_kind_subject'),
    )
    op.create_table(
        'alert_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('target', sa.Enum('webhook', 'email', name='alerttarget', native_enum=False, length=20), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', name='deliverystatus', native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('alert_id', 'target', name='uq_alert_delivery_target'),
    )
    op.create_index('ix_alert_delivery_due', 'alert_deliveries', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_alert_delivery_due', table_name='alert_deliveries')
    op.drop_table('alert_deliveries')
    op.drop_table('alerts')
    op.drop_index('ix_response_window_open', table_name='response_windows')
    op.drop_index('ix_response_windows_handoff_id', table_name='response_windows')
    op.drop_table('response_windows')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('resolution_business_seconds')
        batch_op.drop_column('resolution_due_at')
        batch_op.drop_column('team')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('accepted_at')
