"""spot check list index

The season's spot checks are listed newest sample first a page at a time (subsidy/core/paging.fetch, keyset on
sampled_on and id): `ix_spot_check_season_sampled` (season_id, sampled_on, id) reads a page by the index. It
replaces `ix_spot_check_season_id`, its prefix, which every lookup by season used.

Revision ID: 0016_h_quality
Revises: (see down_revision)
Create Date: 2026-12-03 07:40:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0016_h_quality'
down_revision: Union[str, Sequence[str], None] = '0016_h_anomalies'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Plain op.create_index, not batch mode: an index needs no table rebuild on SQLite.
    op.create_index('ix_spot_check_season_sampled', 'spot_check', ['season_id', 'sampled_on', 'id'], unique=False)
    op.drop_index('ix_spot_check_season_id', table_name='spot_check')


def downgrade() -> None:
    op.create_index('ix_spot_check_season_id', 'spot_check', ['season_id'], unique=False)
    op.drop_index('ix_spot_check_season_sampled', table_name='spot_check')
