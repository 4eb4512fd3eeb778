"""sla marks, follow-up status, faq feedback, job leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:40:47.812221
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('faq_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('intent', sa.String(length=100), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('faq_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faq_feedback_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_faq_feedback_created', ['created_at'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_last_message', ['last_message_at'], unique=False)

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('at_risk_after', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('at_risk_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_handoffs_due_at'), ['due_at'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_message_created', ['created_at'], unique=False)

    with op.batch_alter_table('wrap_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_done_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('follow_up_done_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('follow_up_overdue_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_wrap_up_follow_up', ['follow_up_required', 'follow_up_done_at', 'follow_up_due'], unique=False)
        batch_op.create_foreign_key('fk_wrap_up_follow_up_done_by', 'reps', ['follow_up_done_by_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('wrap_ups', schema=None) as batch_op:
        batch_op.drop_constraint('fk_wrap_up_follow_up_done_by', type_='foreignkey')
        batch_op.drop_index('ix_wrap_up_follow_up')
        batch_op.drop_column('follow_up_overdue_at')
        batch_op.drop_column('follow_up_done_by_id')
        batch_op.drop_column('follow_up_done_at')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_message_created')

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_due_at'))
        batch_op.drop_column('breached_at')
        batch_op.drop_column('at_risk_at')
        batch_op.drop_column('at_risk_after')
        batch_op.drop_column('due_at')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_last_message')

    with op.batch_alter_table('faq_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_feedback_created')
        batch_op.drop_index(batch_op.f('ix_faq_feedback_conversation_id'))

    op.drop_table('faq_feedback')
    op.drop_table('job_leases')
