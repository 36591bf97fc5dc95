"""the platform data set's change markers on deliveries and spot checks

`change_seq` on delivery and spot_check, stamped on every INSERT and UPDATE by the triggers that 0015_h_platform
gave the other exported tables (its `create_change_triggers`, loaded from that revision's file rather than copied,
so that both stamp alike). Rows written before this revision keep 0 and come with the first full export.

Revision ID: 0016_h_platform
Revises: (see down_revision)
Create Date: 2026-12-03 07:40:00
"""
import importlib.util
from pathlib import Path
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0016_h_platform'
down_revision: Union[str, Sequence[str], None] = '0015_h_platform'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRACKED = ("delivery", "spot_check")


def _revision_0015():
    """0015_h_platform's module (create_change_triggers, drop_change_triggers), found by its file name's pattern."""
    (path,) = Path(__file__).parent.glob("*_0015_h_platform_*.py")
    spec = importlib.util.spec_from_file_location("revision_0015_h_platform", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    for table in TRACKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
            batch_op.create_index(batch_op.f(f'ix_{table}_change_seq'), ['change_seq'], unique=False)
    triggers = _revision_0015()
    for table in TRACKED:
        triggers.create_change_triggers(table)


def downgrade() -> None:
    triggers = _revision_0015()
    for table in TRACKED:
        triggers.drop_change_triggers(table)
    for table in TRACKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_change_seq'))
            batch_op.drop_column('change_seq')
