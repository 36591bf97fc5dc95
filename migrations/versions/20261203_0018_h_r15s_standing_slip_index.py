"""the anomaly rules read standing slips in slip order: ix_slip_standing replaces ix_slip_season_day

`unscanned_copy` and `undelivered` (subsidy/oversight/anomalies.py) are anti-joins of a season's standing slips
against slip_scan's unique (slip_id, copy_no) and delivery's unique slip_id. With the slips read in id order from an
index alone, PostgreSQL merges the two sorted inputs instead of hashing every scan or delivery of the season.
ix_slip_standing (season, status, id, day, town, supplier) serves both rules; ix_slip_season_day (the same columns
with the day before the id), which only they used, goes. scripts/bench_anomalies.py and docs/benchmarks.md have
the figures.

Revision ID: 0018_h_r15s
Revises: (see down_revision)
Create Date: 2026-12-03 13:20:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0018_h_r15s'
down_revision: Union[str, Sequence[str], None] = '0018_h_r15c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_slip_standing", "slip", ["season_id", "status", "id", "issued_on", "town_id", "supplier_id"],
                    unique=False)
    op.drop_index("ix_slip_season_day", table_name="slip")


def downgrade() -> None:
    op.create_index("ix_slip_season_day", "slip", ["season_id", "status", "issued_on", "id", "town_id", "supplier_id"],
                    unique=False)
    op.drop_index("ix_slip_standing", table_name="slip")
