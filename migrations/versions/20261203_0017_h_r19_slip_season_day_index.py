"""slip list index of one season

The slips list (subsidy/sales/listing.py: list_slips) is always of one season and, for the bureau, finance and the
auditor, of no supplier, town or village: WHERE season_id = ? ORDER BY issued_on DESC, id DESC LIMIT one page. With
only ix_slip_day (issued_on, id) PostgreSQL reads that index backwards and drops the rows of other seasons, so a
past season's page first reads every slip of the seasons after it (and the count of its rows reads them all). The
index (season_id, issued_on, id) makes every page of one season a range, at any depth, and its capped count a range
of the same index (tests/services/core/test_list_plans.py: test_the_slips_of_one_season_are_a_range_of_its_index).

ix_slip_day cannot stay beside it: PostgreSQL costs the two indexes alike for that page (it assumes a season's slips
spread evenly over the days) and kept choosing ix_slip_day, reading 50,000 newer slips for the first page of the
season before. Its other reader, an office's list of the issued slips whose copy it has not recorded (oldest first,
every season: sales/scanning.py: missing_copies), gets it back as a partial index of the issued slips,
ix_slip_issued_day, which a list of every status cannot use.

Indexes only (no batch mode), so SQLite keeps the change triggers of 0015_h_platform.

Revision ID: 0017_h_r19
Revises: (see down_revision)
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0017_h_r19'
down_revision: Union[str, Sequence[str], None] = '0018_h_r17'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # The new ones first: no moment without an index for the lists ix_slip_day served.
    op.create_index("ix_slip_season_on", "slip", ["season_id", "issued_on", "id"])
    op.create_index("ix_slip_issued_day", "slip", ["issued_on", "id"], postgresql_where=sa.text("status = 'issued'"),
                    sqlite_where=sa.text("status = 'issued'"))
    op.drop_index("ix_slip_day", table_name="slip")


def downgrade() -> None:
    op.create_index("ix_slip_day", "slip", ["issued_on", "id"])
    op.drop_index("ix_slip_issued_day", table_name="slip")
    op.drop_index("ix_slip_season_on", table_name="slip")
