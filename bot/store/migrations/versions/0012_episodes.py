"""episodes: one interaction record per handoff and per bot-only stretch of a conversation

Revision ID: 0012
Revises: 0015
Create Date: 2026-11-29 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Conversations from before get no episodes: their history stays in the per-conversation
    # export, and their next message opens the first episode.
    op.create_table(
        'episodes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('nature_of_inquiry', sa.String(length=100), nullable=True),
        sa.Column('topic_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('topic_message_id', sa.Integer(), nullable=True),
        sa.Column('last_intent', sa.String(length=100), nullable=True),
        sa.Column('ended_on_fallback', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('helped', sa.Boolean(), nullable=True),
        sa.Column('came_back_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handoff_requested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handoff_reason', sa.String(length=50), nullable=True),
        sa.Column('wrap_up_id', sa.Integer(), nullable=True),
        sa.Column(
            'outcome',
            sa.Enum(
                'open', 'answered', 'handed_off', 'abandoned', 'no_inquiry',
                name='episodeoutcome', native_enum=False, length=20,
            ),
            nullable=False,
        ),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['wrap_up_id'], ['wrap_ups.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        # At most one open episode per conversation, whichever instance writes it.
        batch_op.create_index(
            'uq_episode_open', ['conversation_id'], unique=True,
            sqlite_where=sa.text('closed_at IS NULL'),
            postgresql_where=sa.text('closed_at IS NULL'),
        )
        batch_op.create_index('ix_episode_started', ['started_at'], unique=False)
        batch_op.create_index('ix_episode_quiet', ['closed_at', 'last_activity_at'], unique=False)
        batch_op.create_index(
            'ix_episode_topic', ['contact_id', 'nature_of_inquiry', 'topic_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episode_topic')
        batch_op.drop_index('ix_episode_quiet')
        batch_op.drop_index('ix_episode_started')
        batch_op.drop_index('uq_episode_open')
    op.drop_table('episodes')
