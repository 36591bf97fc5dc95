"""login throttle

Failed logins are counted per client address (address_failures) and per user at one address (account_failures)
instead of per user everywhere (app_user.failed_logins, dropped): a stranger's failures lock the stranger's
address out, not the user (subsidy/accounts/throttle.py). app_user.locked_until stays, for the lock that failures
from many addresses at once put on a user for everyone. Counts in progress are not carried over: they start again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:19:19.800280
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('address_failures',
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_address_failures_failures')),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_address_failures'))
    )
    op.create_table('account_failures',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_account_failures_failures')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_account_failures_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', 'address', name=op.f('pk_account_failures'))
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_app_user_failed_logins'), type_='check')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint(batch_op.f('ck_app_user_failed_logins'), 'failed_logins >= 0')

    op.drop_table('account_failures')
    op.drop_table('address_failures')
