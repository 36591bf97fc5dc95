"""anomaly flags and the household's address key

The anomaly rules' flags (subsidy/oversight/anomalies.py), and `household.address_key`, the address's normal form
(subsidy/rules/addresses.py) that the shared_address rule groups by, written here for every existing household in
batches (the server default '' is only there for the moment between adding the column and filling it).

Revision ID: 0015_h_anomalies
Revises: (see down_revision)
Create Date: 2026-12-02 10:08:51.596972
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)

from subsidy.rules.addresses import address_key


revision: str = '0015_h_anomalies'
down_revision: Union[str, Sequence[str], None] = '0014_h_cases'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('anomaly_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('subject_key', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('member_kind', sa.String(length=16), nullable=False),
    sa.Column('members', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('figure', sa.Integer(), nullable=False),
    sa.Column('base', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status IN ('dismissed', 'confirmed')) = (reviewed_at IS NOT NULL)", name=op.f('ck_anomaly_flag_reviewed')),
    sa.CheckConstraint("member_kind IN ('household', 'slip')", name=op.f('ck_anomaly_flag_member_kind')),
    sa.CheckConstraint("status != 'confirmed' OR case_id IS NOT NULL", name=op.f('ck_anomaly_flag_confirmed_has_case')),
    sa.CheckConstraint("status IN ('open', 'dismissed', 'confirmed', 'cleared')", name=op.f('ck_anomaly_flag_status')),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_case.id'], name=op.f('fk_anomaly_flag_case_id_oversight_case')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['app_user.id'], name=op.f('fk_anomaly_flag_reviewed_by_app_user')),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_anomaly_flag_season_id_season')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomaly_flag')),
    sa.UniqueConstraint('rule', 'fingerprint', name=op.f('uq_anomaly_flag_rule_fingerprint'))
    )
    with op.batch_alter_table('anomaly_flag', schema=None) as batch_op:
        batch_op.create_index('ix_anomaly_flag_rule_status_id', ['rule', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomaly_flag_season_id'), ['season_id'], unique=False)
        batch_op.create_index('ix_anomaly_flag_status_id', ['status', 'id'], unique=False)

    # A plain ADD COLUMN, on SQLite too (batch mode would rebuild household, which everything refers to).
    op.add_column('household', sa.Column('address_key', sa.String(length=255), nullable=False, server_default=''))
    _fill_address_keys()
    op.create_index('ix_household_village_address', 'household', ['village_id', 'address_key', 'id'], unique=False)


BATCH = 5000


def _fill_address_keys() -> None:
    """address_key of every household, BATCH rows a statement, in id order (a million households hold no more than
    one batch in memory at a time)."""
    conn = op.get_bind()
    household = sa.table('household', sa.column('id', sa.Integer), sa.column('address', sa.String),
                         sa.column('address_key', sa.String))
    write = (sa.update(household).where(household.c.id == sa.bindparam('_id'))
             .values(address_key=sa.bindparam('_key')))
    last = 0
    while True:
        rows = conn.execute(sa.select(household.c.id, household.c.address).where(household.c.id > last)
                            .order_by(household.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(write, [{'_id': i, '_key': address_key(a)} for i, a in rows])
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index('ix_household_village_address', table_name='household')
    op.execute("ALTER TABLE household DROP COLUMN address_key")  # plain, as the upgrade added it

    with op.batch_alter_table('anomaly_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_anomaly_flag_status_id')
        batch_op.drop_index(batch_op.f('ix_anomaly_flag_season_id'))
        batch_op.drop_index('ix_anomaly_flag_rule_status_id')

    op.drop_table('anomaly_flag')
