"""callbacks (回访抽查): the seeded sample of a summary's slips, the slips it drew, and the calls

One sample per summary (unique summary_id); append-only callback rows, one done row per sampled slip and sample
(partial unique index uq_callback_done); subsidy/verification/callbacks.py.

Revision ID: 0015_h_callbacks
Revises: (see down_revision)
Create Date: 2026-12-02 10:09:18.723677
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0015_h_callbacks'
down_revision: Union[str, Sequence[str], None] = '0015_h_delivery'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('callback_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('summary_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('population_digest', sa.String(length=64), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('drawn_by', sa.Integer(), nullable=True),
    sa.Column('drawn_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('percent IS NULL OR (percent >= 1 AND percent <= 100)', name=op.f('ck_callback_sample_percent')),
    sa.CheckConstraint('size >= 1 AND size <= population', name=op.f('ck_callback_sample_size')),
    sa.ForeignKeyConstraint(['drawn_by'], ['app_user.id'], name=op.f('fk_callback_sample_drawn_by_app_user')),
    sa.ForeignKeyConstraint(['summary_id'], ['summary.id'], name=op.f('fk_callback_sample_summary_id_summary')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_sample')),
    sa.UniqueConstraint('summary_id', name=op.f('uq_callback_sample_summary_id'))
    )
    op.create_table('callback_sample_slip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('slip_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['callback_sample.id'], name=op.f('fk_callback_sample_slip_sample_id_callback_sample')),
    sa.ForeignKeyConstraint(['slip_id'], ['slip.id'], name=op.f('fk_callback_sample_slip_slip_id_slip')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_sample_slip')),
    sa.UniqueConstraint('sample_id', 'position', name=op.f('uq_callback_sample_slip_sample_id_position')),
    sa.UniqueConstraint('sample_id', 'slip_id', name=op.f('uq_callback_sample_slip_sample_id_slip_id'))
    )
    with op.batch_alter_table('callback_sample_slip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_sample_slip_slip_id'), ['slip_id'], unique=False)

    op.create_table('callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('slip_id', sa.Integer(), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('received_kg', sa.BigInteger(), nullable=True),
    sa.Column('received_stoves', sa.Integer(), nullable=True),
    sa.Column('paid_fen', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('discrepancy', sa.Boolean(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('attempts >= 1', name=op.f('ck_callback_attempts')),
    sa.CheckConstraint('done = (reached OR attempts >= 3)', name=op.f('ck_callback_done')),
    sa.CheckConstraint('reached OR (received_kg IS NULL AND received_stoves IS NULL AND paid_fen IS NULL)', name=op.f('ck_callback_unreached_says_nothing')),
    sa.CheckConstraint('reached OR NOT discrepancy', name=op.f('ck_callback_discrepancy_reached')),
    sa.CheckConstraint('received_kg >= 0 AND received_stoves >= 0 AND paid_fen >= 0', name=op.f('ck_callback_amounts')),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_case.id'], name=op.f('fk_callback_case_id_oversight_case')),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], name=op.f('fk_callback_recorded_by_app_user')),
    sa.ForeignKeyConstraint(['sample_id', 'slip_id'], ['callback_sample_slip.sample_id', 'callback_sample_slip.slip_id'], name='fk_callback_sampled_slip'),
    sa.ForeignKeyConstraint(['sample_id'], ['callback_sample.id'], name=op.f('fk_callback_sample_id_callback_sample')),
    sa.ForeignKeyConstraint(['slip_id'], ['slip.id'], name=op.f('fk_callback_slip_id_slip')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback')),
    sa.UniqueConstraint('sample_id', 'slip_id', 'attempts', name=op.f('uq_callback_sample_id_slip_id_attempts'))
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index('ix_callback_discrepancy', ['recorded_at'], unique=False, postgresql_where=sa.text('discrepancy'), sqlite_where=sa.text('discrepancy'))
        batch_op.create_index(batch_op.f('ix_callback_slip_id'), ['slip_id'], unique=False)
        batch_op.create_index('uq_callback_done', ['sample_id', 'slip_id'], unique=True, postgresql_where=sa.text('done'), sqlite_where=sa.text('done'))



def downgrade() -> None:
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index('uq_callback_done', postgresql_where=sa.text('done'), sqlite_where=sa.text('done'))
        batch_op.drop_index(batch_op.f('ix_callback_slip_id'))
        batch_op.drop_index('ix_callback_discrepancy', postgresql_where=sa.text('discrepancy'), sqlite_where=sa.text('discrepancy'))

    op.drop_table('callback')
    with op.batch_alter_table('callback_sample_slip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_sample_slip_slip_id'))

    op.drop_table('callback_sample_slip')
    op.drop_table('callback_sample')
