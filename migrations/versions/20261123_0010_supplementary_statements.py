"""supplementary statements

A summary that reaches finance approval after its supplier's statement for that month was made is settled into a
supplementary statement of the same supplier and month, never into the existing one: the statement is unique per
supplier, month and sequence number (1 for every statement made so far).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 17:40:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default='1'))
        batch_op.drop_constraint(batch_op.f('uq_settlement_supplier_id_month'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_settlement_supplier_id_month_seq'),
                                          ['supplier_id', 'month', 'seq'])


def downgrade() -> None:
    # Refused by the database while a month has a supplementary statement: those cannot be folded back silently.
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_settlement_supplier_id_month_seq'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_settlement_supplier_id_month'), ['supplier_id', 'month'])
        batch_op.drop_column('seq')
