"""household name search by pg_trgm on PostgreSQL (h-scale)

The household search (subsidy/registry/households.py: _matching) finds a name by "contains". On PostgreSQL that is
served by a GIN index of trigrams, which needs the pg_trgm extension (in PostgreSQL's contrib package, installed with
the server by the Debian and RPM packages; a trusted extension, so the database's owner may create it). On SQLite
this revision does nothing: the name is found by a scan in id order (the search's docstring says why).

Revision ID: 0015_h_scale
Revises: (see down_revision)
Create Date: 2026-12-02 10:30:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015_h_scale'
down_revision: Union[str, Sequence[str], None] = '0015_h_dispatch'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_household_head_name_trgm", "household", ["head_name"], unique=False,
                    postgresql_using="gin", postgresql_ops={"head_name": "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_household_head_name_trgm", table_name="household")
    # The extension stays: other objects of the database may have come to use it.
