"""summary early submission allowed

A summary of a month that has not ended may be submitted only when a reviewer allowed it: who and when
(summary.early_allowed_by, summary.early_allowed_at). Existing summaries need no allowance (they were built under
the old rule, and a submitted one is past the check).

Revision ID: 0013_h_print
Revises: 0013_h_uploads
Create Date: 2026-12-02 05:55:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401


revision: str = '0013_h_print'
down_revision: Union[str, Sequence[str], None] = '0013_h_uploads'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('early_allowed_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('early_allowed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_summary_early_allowed_by_app_user'), 'app_user',
                                    ['early_allowed_by'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('summary', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_summary_early_allowed_by_app_user'), type_='foreignkey')
        batch_op.drop_column('early_allowed_at')
        batch_op.drop_column('early_allowed_by')
