"""teams and languages of reps, presence and capacity, a conversation's team

Revision ID: 0013
Revises: 0009
Create Date: 2026-11-29 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presence', sa.String(length=20), server_default='away', nullable=False))
        batch_op.add_column(sa.Column('presence_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('away_auto', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('max_chat', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_messaging', sa.Integer(), nullable=True))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('unserved_language_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'rep_teams',
        sa.Column('rep_id', sa.Integer(), nullable=False),
        sa.Column('team', sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(['rep_id'], ['reps.id'], ),
        sa.PrimaryKeyConstraint('rep_id', 'team'),
    )
    with op.batch_alter_table('rep_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rep_teams_team'), ['team'], unique=False)
    op.create_table(
        'rep_languages',
        sa.Column('rep_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['rep_id'], ['reps.id'], ),
        sa.PrimaryKeyConstraint('rep_id', 'language'),
    )
    with op.batch_alter_table('rep_languages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rep_languages_language'), ['language'], unique=False)
    # People from before keep doing what they did: everyone serves the general team, in English.
    # Conversations already waiting belong to the general team too.
    op.execute("INSERT INTO rep_teams (rep_id, team) SELECT id, 'general' FROM reps")
    op.execute("INSERT INTO rep_languages (rep_id, language) SELECT id, 'en' FROM reps")
    op.execute(
        "UPDATE conversations SET team = 'general' "
        "WHERE state IN ('queued', 'assigned', 'escalated')"
    )


def downgrade() -> None:
    with op.batch_alter_table('rep_languages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rep_languages_language'))
    op.drop_table('rep_languages')
    with op.batch_alter_table('rep_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rep_teams_team'))
    op.drop_table('rep_teams')
    # A plain DROP COLUMN (PostgreSQL, SQLite 3.35+): batch mode copies the table, which
    # SQLite refuses for `conversations` and `reps` once other tables refer to them.
    for column in ('unserved_language_at', 'team'):
        op.drop_column('conversations', column)
    for column in (
        'max_messaging', 'max_chat', 'last_assigned_at', 'last_seen_at', 'away_auto',
        'presence_changed_at', 'presence',
    ):
        op.drop_column('reps', column)
