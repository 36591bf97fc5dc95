"""import preview kept with its upload

The upload keeps what its preview found (`preview`, JSON with masked ID numbers) so that a clerk can leave the page
and return to it, and a confirmation commits in batches, counting `rows_done` of `rows_total` with its running
result (`result`, JSON), so that an interrupted one goes on where it stopped (subsidy/registry/spreadsheet.py).
Uploads already stored get empty previews: they are dropped by the next purge (a day after they were made).

Revision ID: 0013_h_uploads
Revises: 0012
Create Date: 2026-12-02 05:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0013_h_uploads'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('import_upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('rows_total', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rows_done', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('result', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('import_upload', schema=None) as batch_op:
        batch_op.drop_column('result')
        batch_op.drop_column('rows_done')
        batch_op.drop_column('rows_total')
        batch_op.drop_column('preview')
