"""depots

A supplier's supply points (保供点, seed 002): `depot` (supplier, name, address, town), and `batch.depot_id`, the
depot a batch was taken in at, so that spot-check coverage is counted per depot.

`batch` is one of the platform tables with change triggers (0015_h_platform): a batch-mode rebuild on SQLite would
drop them, so on SQLite the column is added by a plain ALTER TABLE (a nullable column with a named REFERENCES
clause needs no rebuild), and its index separately.

Revision ID: 0017_h_quality_depots
Revises: (see down_revision)
Create Date: 2026-12-03 07:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0017_h_quality_depots'
down_revision: Union[str, Sequence[str], None] = '0016_h_quality'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('depot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_depot_created_by_app_user')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_depot_supplier_id_supplier')),
    sa.ForeignKeyConstraint(['town_id'], ['town.id'], name=op.f('fk_depot_town_id_town')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_depot')),
    sa.UniqueConstraint('supplier_id', 'name', name=op.f('uq_depot_supplier_id_name'))
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE batch ADD COLUMN depot_id INTEGER "
                   "CONSTRAINT fk_batch_depot_id_depot REFERENCES depot (id)")
    else:
        op.add_column('batch', sa.Column('depot_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_batch_depot_id_depot'), 'batch', 'depot', ['depot_id'], ['id'])
    op.create_index(op.f('ix_batch_depot_id'), 'batch', ['depot_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_batch_depot_id'), table_name='batch')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE batch DROP COLUMN depot_id")  # SQLite 3.35+; the column's FK goes with it
    else:
        op.drop_constraint(op.f('fk_batch_depot_id_depot'), 'batch', type_='foreignkey')
        op.drop_column('batch', 'depot_id')
    op.drop_table('depot')
