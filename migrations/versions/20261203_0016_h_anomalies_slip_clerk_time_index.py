"""two indexes of slip for the anomaly rules

`burst` (subsidy/oversight/anomalies.py) looks at each clerk's slips in the order they were issued: with
ix_slip_clerk_time PostgreSQL reads them in that order from the index alone instead of sorting the season's slips
(2,000,000 at the scale of DESIGN.md). `unscanned_copy` and `undelivered` read a season's standing slips up to a day
with their town and supplier: ix_slip_season_day serves them without reading the slip's wide heap.
scripts/bench_anomalies.py and docs/benchmarks.md have the figures.

Revision ID: 0016_h_anomalies
Revises: (see down_revision)
Create Date: 2026-12-03 07:40:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0016_h_anomalies'
down_revision: Union[str, Sequence[str], None] = '0016_h_lists'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_slip_clerk_time", "slip", ["season_id", "issued_by", "issued_at", "id", "issued_on"],
                    unique=False)
    op.create_index("ix_slip_season_day", "slip", ["season_id", "status", "issued_on", "id", "town_id", "supplier_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_slip_season_day", table_name="slip")
    op.drop_index("ix_slip_clerk_time", table_name="slip")
