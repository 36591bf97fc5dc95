"""cases (投诉举报与问题线索) and the season's hotline

Cases with their links, events and a per-season number counter (subsidy/oversight/cases.py); the season gets its
complaint hotline, printed on the household's copy of a slip and on the public notice (empty for existing seasons).

Revision ID: 0014_h_cases
Revises: 0013_h_crypt
Create Date: 2026-12-02 06:43:13.076733
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0014_h_cases'
down_revision: Union[str, Sequence[str], None] = '0013_h_crypt'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('case_counter',
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_case_counter_season_id_season')),
    sa.PrimaryKeyConstraint('season_id', name=op.f('pk_case_counter'))
    )
    op.create_table('oversight_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('finding', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('opened_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_oversight_case_closed_has_date')),
    sa.CheckConstraint("category IN ('quality', 'short_weight', 'price', 'impersonation', 'ban_zone', 'service', 'other')", name=op.f('ck_oversight_case_category')),
    sa.CheckConstraint("channel IN ('hotline', 'walk_in', 'online', 'callback', 'inspection', 'system')", name=op.f('ck_oversight_case_channel')),
    sa.CheckConstraint("finding = '' OR finding IN ('true', 'partly', 'false')", name=op.f('ck_oversight_case_finding')),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'closed')", name=op.f('ck_oversight_case_status')),
    sa.ForeignKeyConstraint(['opened_by'], ['app_user.id'], name=op.f('fk_oversight_case_opened_by_app_user')),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_oversight_case_season_id_season')),
    sa.ForeignKeyConstraint(['town_id'], ['town.id'], name=op.f('fk_oversight_case_town_id_town')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_case')),
    sa.UniqueConstraint('number', name=op.f('uq_oversight_case_number')),
    sa.UniqueConstraint('season_id', 'seq', name=op.f('uq_oversight_case_season_id_seq'))
    )
    with op.batch_alter_table('oversight_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oversight_case_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_oversight_case_season_id'), ['season_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oversight_case_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_oversight_case_town_id'), ['town_id'], unique=False)

    op.create_table('case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_case.id'], name=op.f('fk_case_event_case_id_oversight_case')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_case_event_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_event_case_id'), ['case_id'], unique=False)

    op.create_table('case_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.CheckConstraint("kind IN ('household', 'slip', 'supplier', 'batch')", name=op.f('ck_case_link_kind')),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_case.id'], name=op.f('fk_case_link_case_id_oversight_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link')),
    sa.UniqueConstraint('case_id', 'kind', 'target_id', name=op.f('uq_case_link_case_id_kind_target_id'))
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('season', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hotline', sa.String(length=32), nullable=False, server_default=''))



def downgrade() -> None:
    # A plain DROP COLUMN, on SQLite (3.35+) too: batch mode would rebuild season, and its DROP TABLE is refused by
    # the foreign keys of everything that refers to a season. The column is in no index or constraint.
    op.execute("ALTER TABLE season DROP COLUMN hotline")

    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_case_id'))

    op.drop_table('case_link')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_event_case_id'))

    op.drop_table('case_event')
    with op.batch_alter_table('oversight_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oversight_case_town_id'))
        batch_op.drop_index(batch_op.f('ix_oversight_case_status'))
        batch_op.drop_index(batch_op.f('ix_oversight_case_season_id'))
        batch_op.drop_index(batch_op.f('ix_oversight_case_category'))

    op.drop_table('oversight_case')
    op.drop_table('case_counter')
