"""batch report date, depot active

`batch.report_date`: the date on the batch's lab report (报告日期), NULL when not given (every batch recorded before
this revision). `depot.active`: a depot can be deactivated (offered for no new batch, kept on old ones); every
existing depot stays active.

`batch` is one of the platform tables with change triggers (0015_h_platform): a batch-mode rebuild on SQLite would
drop them, so the nullable column is added by a plain ALTER TABLE there (as 0017_h_quality_depots does).

Revision ID: 0018_h_r17
Revises: (see down_revision)
Create Date: 2026-12-03 13:20:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0018_h_r17'
down_revision: Union[str, Sequence[str], None] = '0018_h_r15s'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE batch ADD COLUMN report_date DATE")
        op.execute("ALTER TABLE depot ADD COLUMN active BOOLEAN DEFAULT 1 NOT NULL")
    else:
        op.add_column('batch', sa.Column('report_date', sa.Date(), nullable=True))
        op.add_column('depot', sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite 3.35+
        op.execute("ALTER TABLE depot DROP COLUMN active")
        op.execute("ALTER TABLE batch DROP COLUMN report_date")
    else:
        op.drop_column('depot', 'active')
        op.drop_column('batch', 'report_date')
