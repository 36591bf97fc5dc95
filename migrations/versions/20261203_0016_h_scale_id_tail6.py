"""the search by an ID number's last six characters (h-scale)

`household.id_number_tail6_hmac`: the lookup hash (HMAC-SHA256 under SUBSIDY_LOOKUP_KEY, subsidy/core/vault.py,
`tail6_blind`) of the last six characters of the household's ID number, indexed, which the household search compares
when six characters are typed (subsidy/registry/households.py: _matching). The existing households get theirs here,
BATCH at a time in id order: each ID number is opened with its data key and its tail hashed with the lookup key, so
both keys must be set when a database that holds households is upgraded (the upgrade names the missing key and
changes nothing otherwise: the whole revision is one transaction).

The column is added NOT NULL with a server default of '' so that it can be added to a table with rows (a plain ADD
COLUMN on SQLite too: batch mode would rebuild household, which everything refers to). On PostgreSQL the default is
dropped again, so that a hand-written INSERT that forgets the column fails instead of storing a household no search
by six characters finds; SQLite keeps it (dropping it means rebuilding the table), as 0013_h_crypt's slip columns do.

Change markers: the platform export (subsidy/reports/platform.py) tracks households by `change_seq`, which the
triggers of 0015_h_platform stamp on every UPDATE, so every household filled here is stamped with this upgrade's
transaction (its export epoch on SQLite) and comes again in the next incremental export, unchanged in every exported
column: the export says what changed in the table, and it did.

Revision ID: 0016_h_scale
Revises: (see down_revision)
Create Date: 2026-12-03 07:40:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0016_h_scale'
down_revision: Union[str, Sequence[str], None] = '0017_h_quality_depots'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 1000


def _fill() -> None:
    """id_number_tail6_hmac of every household, BATCH rows a statement, in id order."""
    from subsidy.core import vault

    conn = op.get_bind()
    household = sa.table('household', sa.column('id', sa.Integer), sa.column('id_number_sealed', sa.String),
                         sa.column('id_number_tail6_hmac', sa.String))
    write = (sa.update(household).where(household.c.id == sa.bindparam('_id'))
             .values(id_number_tail6_hmac=sa.bindparam('_hmac')))
    last = 0
    while True:
        rows = conn.execute(sa.select(household.c.id, household.c.id_number_sealed).where(household.c.id > last)
                            .order_by(household.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(write, [{'_id': i, '_hmac': vault.tail6_blind('id_number', vault.open_sealed('id_number', token))}
                             for i, token in rows])
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column('household', sa.Column('id_number_tail6_hmac', sa.String(length=64), nullable=False,
                                         server_default=''))
    _fill()
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('household', 'id_number_tail6_hmac', server_default=None)
    op.create_index(op.f('ix_household_id_number_tail6_hmac'), 'household', ['id_number_tail6_hmac'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_household_id_number_tail6_hmac'), table_name='household')
    op.execute("ALTER TABLE household DROP COLUMN id_number_tail6_hmac")  # plain, as the upgrade added it
