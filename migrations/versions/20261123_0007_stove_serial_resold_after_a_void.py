"""stove serial resold after a void

A voided slip's stove goes back to the supplier and may be sold again: the serial is unique among standing lines
only. Lines of slips voided before this migration are released at once.

Also drops ix_slip_line_slip_id: the unique (slip_id, line_no) already serves every lookup by slip, and each sale
paid for the extra index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:59:48.335886
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('slip_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_key', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_constraint(batch_op.f('uq_slip_line_serial'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_slip_line_serial_active_key'), ['serial', 'active_key'])
        batch_op.drop_index(batch_op.f('ix_slip_line_slip_id'))
    op.execute("UPDATE slip_line SET active_key = id "
               "WHERE slip_id IN (SELECT id FROM slip WHERE status = 'voided')")


def downgrade() -> None:
    # Fails if a serial was sold again after a void: that history cannot be squeezed back into one-sale-ever.
    with op.batch_alter_table('slip_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_slip_line_serial_active_key'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_slip_line_serial'), ['serial'])
        batch_op.drop_column('active_key')
        batch_op.create_index(batch_op.f('ix_slip_line_slip_id'), ['slip_id'], unique=False)
