"""closing a season and its frozen acceptance report

`season.closed_at` / `closed_by`: the bureau closed the season (no more registrations or slips in it); the
`acceptance_snapshot` row written in the closing transaction holds the season's acceptance report (考核验收) as it
was at the close (subsidy/reports/acceptance.py).

Revision ID: 0015_h_dispatch
Revises: (see down_revision)
Create Date: 2026-12-02 10:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0015_h_dispatch'
down_revision: Union[str, Sequence[str], None] = '0015_h_quality'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Plain ALTER TABLE on both: batch mode would rebuild season on SQLite, and its DROP TABLE is refused by the
    # foreign keys of everything that refers to a season. Hence no foreign key on closed_by either (SQLite cannot
    # drop a column a foreign key names): who closed the season is in the audit log as well.
    op.add_column('season', sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('season', sa.Column('closed_by', sa.Integer(), nullable=True))
    op.create_table('acceptance_snapshot',
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_acceptance_snapshot_created_by_app_user')),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_acceptance_snapshot_season_id_season')),
    sa.PrimaryKeyConstraint('season_id', name=op.f('pk_acceptance_snapshot'))
    )


def downgrade() -> None:
    op.drop_table('acceptance_snapshot')
    op.execute("ALTER TABLE season DROP COLUMN closed_by")
    op.execute("ALTER TABLE season DROP COLUMN closed_at")
