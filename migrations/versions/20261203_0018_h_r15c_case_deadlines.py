"""case deadlines per category in the season's policy

`case_deadline` (season, category, days): the days a case of that category has to be handled, counted from the day
it is opened; a category without a row has the default of 7 days (subsidy/oversight/cases.py). One row per season
and category (unique), days between 1 and 365 (a CHECK).

Revision ID: 0018_h_r15c
Revises: (see down_revision)
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0018_h_r15c'
down_revision: Union[str, Sequence[str], None] = '0016_h_scale'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('case_deadline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.CheckConstraint("category IN ('quality', 'short_weight', 'price', 'impersonation', 'ban_zone', 'service', 'other')", name=op.f('ck_case_deadline_category')),
    sa.CheckConstraint('days > 0 AND days <= 365', name=op.f('ck_case_deadline_days')),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_case_deadline_season_id_season')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_deadline')),
    sa.UniqueConstraint('season_id', 'category', name=op.f('uq_case_deadline_season_id_category'))
    )


def downgrade() -> None:
    op.drop_table('case_deadline')
