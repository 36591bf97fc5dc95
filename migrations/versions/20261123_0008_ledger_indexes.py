"""ledger indexes

The stock ledger (subsidy/supply/ledger.py) pages and sums a supplier's season of slip lines in SQL; these two covering
indexes let it read the issued slips of a supplier and season by day, and their lines of one product by batch, without
touching the tables. Plain CREATE INDEX: on PostgreSQL it blocks writes to slip and slip_line while it builds (seconds
for a season of 2,000,000 slips), which the upgrade's downtime covers (the app refuses to start before it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:06:11.217379
"""
from typing import Sequence, Union

from alembic import op
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.create_index('ix_slip_ledger', ['supplier_id', 'season_id', 'status', 'issued_on', 'id'], unique=False)

    with op.batch_alter_table('slip_line', schema=None) as batch_op:
        batch_op.create_index('ix_slip_line_ledger', ['slip_id', 'product', 'batch_id', 'quantity'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slip_line', schema=None) as batch_op:
        batch_op.drop_index('ix_slip_line_ledger')

    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.drop_index('ix_slip_ledger')
