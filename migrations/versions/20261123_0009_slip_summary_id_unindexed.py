"""slip summary_id unindexed, list indexes that need no sort

Building a month's summaries sets summary_id on every slip of the month. ix_slip_unsummarised covered summary_id, so
on PostgreSQL each of those row updates wrote a new row version plus a new entry in every one of the slip table's
indexes (10 of them), and on SQLite it moved an index entry. Now no index covers summary_id: the slips of a summary
are found by supplier, town and month (ix_slip_supplier_town_day) plus the few that were ever set aside
(ix_slip_set_aside, partial), and on PostgreSQL the table keeps half of each page free (fillfactor 50) so that the
update of a whole month rewrites each row on its own page (HOT) without touching any index.

Half-empty pages make PostgreSQL read twice the pages where a query visits many rows. The two list indexes therefore
grow from (supplier_id | town_id, issued_on) to (..., issued_on, id, status): a list page in `issued_on DESC, id DESC`
order reads its 50 rows without sorting the day, and its count(*) with a status filter reads the index alone.
Measured with 1,000,000 slips (list page = count + first page, PostgreSQL): a supplier's month 16 -> 21 ms, with a
status filter 43 -> 18 ms, of one town 27 -> 5 ms; a town's month with a status filter 37 -> 6 ms; SQLite's lists
the same or faster (a town's month count 51 -> 2 ms). On PostgreSQL these two indexes are about 4x larger (B-tree
deduplication no longer applies: 39 MB each for 1,000,000 slips).

The fillfactor applies to pages written from now on; an existing database that wants it for its present slips can
run `VACUUM FULL slip` in a maintenance window (it rewrites the table under an exclusive lock). Plain CREATE INDEX:
on PostgreSQL it blocks writes to slip while it builds (seconds for a season of 2,000,000 slips), which the upgrade's
downtime covers (the app refuses to start before it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.drop_index('ix_slip_unsummarised')
        batch_op.drop_index('ix_slip_supplier_day')
        batch_op.drop_index('ix_slip_town_day')
        batch_op.create_index('ix_slip_supplier_day', ['supplier_id', 'issued_on', 'id', 'status'], unique=False)
        batch_op.create_index('ix_slip_town_day', ['town_id', 'issued_on', 'id', 'status'], unique=False)
        batch_op.create_index('ix_slip_supplier_town_day', ['supplier_id', 'town_id', 'issued_on'], unique=False)
        batch_op.create_index('ix_slip_set_aside', ['supplier_id', 'issued_on'], unique=False,
                              postgresql_where=sa.text('set_aside_at IS NOT NULL'),
                              sqlite_where=sa.text('set_aside_at IS NOT NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE slip SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE slip RESET (fillfactor)')
    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.drop_index('ix_slip_set_aside', postgresql_where=sa.text('set_aside_at IS NOT NULL'),
                            sqlite_where=sa.text('set_aside_at IS NOT NULL'))
        batch_op.drop_index('ix_slip_supplier_town_day')
        batch_op.drop_index('ix_slip_town_day')
        batch_op.drop_index('ix_slip_supplier_day')
        batch_op.create_index('ix_slip_town_day', ['town_id', 'issued_on'], unique=False)
        batch_op.create_index('ix_slip_supplier_day', ['supplier_id', 'issued_on'], unique=False)
        batch_op.create_index('ix_slip_unsummarised', ['supplier_id', 'summary_id', 'issued_on'], unique=False)
