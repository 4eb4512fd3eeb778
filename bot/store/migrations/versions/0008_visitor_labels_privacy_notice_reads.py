"""web chat visitor labels, the privacy notice sent once, who read which conversation

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:00:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('privacy_notice_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('address_label', sa.String(length=40), nullable=True))
    # Web chat sessions from before keep their address (the customer's browser still holds
    # it) and get a label, so people stop seeing the address. Random, not derived from it:
    # the label must tell nothing about the secret. Existing conversations get the privacy
    # notice on their next message: they were never sent one.
    conversations = sa.table(
        'conversations',
        sa.column('id', sa.Integer),
        sa.column('channel', sa.String),
        sa.column('address_label', sa.String),
    )
    bind = op.get_bind()
    ids = bind.execute(
        sa.select(conversations.c.id).where(conversations.c.channel == 'webchat')
    ).scalars().all()
    for conversation_id in ids:
        bind.execute(
            conversations.update()
            .where(conversations.c.id == conversation_id)
            .values(address_label=f'Web visitor {secrets.token_hex(2).upper()}')
        )
    op.create_table(
        'conversation_reads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('rep_id', sa.Integer(), nullable=False),
        sa.Column('via', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['rep_id'], ['reps.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('conversation_reads', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_read_conversation', ['conversation_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_reads_rep_id'), ['rep_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversation_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_reads_rep_id'))
        batch_op.drop_index('ix_conversation_read_conversation')
    op.drop_table('conversation_reads')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('address_label')
        batch_op.drop_column('privacy_notice_sent_at')
