"""slip head_name index (h-nav)

/slips is searched by the buyer's name (subsidy/sales/listing.py: SlipFilter.buyer): an equality on slip.head_name,
read from this index rather than by scanning a supplier's or a town's slips.

Revision ID: 0013_h_nav
Revises: 0013_h_print
Create Date: 2026-12-02 06:40:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0013_h_nav'
down_revision: Union[str, Sequence[str], None] = '0013_h_print'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_slip_head_name', 'slip', ['head_name'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_slip_head_name', table_name='slip')
