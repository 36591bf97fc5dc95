"""the whole coal test report, standards with "not applicable" limits, government spot checks (抽检)

Batches and standards get the rest of a lab report's values (moisture, mercury, arsenic, phosphorus, chlorine,
fluorine, briquette strength), each NULL when not reported / not applicable; the standard's four existing limits
become nullable. A batch gets `frozen_at` (set by a failed spot check), the season its re-test deadline in days, and
the spot checks their table.

Revision ID: 0015_h_quality
Revises: (see down_revision)
Create Date: 2026-12-02 10:08:38.579956
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0015_h_quality'
down_revision: Union[str, Sequence[str], None] = '0015_h_callbacks'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('spot_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('season_id', sa.Integer(), nullable=False),
    sa.Column('sampled_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('sampler', sa.String(length=64), nullable=False),
    sa.Column('lab', sa.String(length=100), nullable=False),
    sa.Column('report_no', sa.String(length=64), nullable=False),
    sa.Column('volatile_cpct', sa.Integer(), nullable=False),
    sa.Column('sulfur_cpct', sa.Integer(), nullable=False),
    sa.Column('ash_cpct', sa.Integer(), nullable=False),
    sa.Column('calorific_kj_kg', sa.Integer(), nullable=False),
    sa.Column('moisture_cpct', sa.Integer(), nullable=True),
    sa.Column('mercury_ng_g', sa.Integer(), nullable=True),
    sa.Column('arsenic_ug_g', sa.Integer(), nullable=True),
    sa.Column('phosphorus_mpct', sa.Integer(), nullable=True),
    sa.Column('chlorine_mpct', sa.Integer(), nullable=True),
    sa.Column('fluorine_ug_g', sa.Integer(), nullable=True),
    sa.Column('strength_n', sa.Integer(), nullable=True),
    sa.Column('drop_cpct', sa.Integer(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('failed_reasons', sa.String(length=1000), nullable=False),
    sa.Column('standard_source', sa.String(length=200), nullable=False),
    sa.Column('report_attachment_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], name=op.f('fk_spot_check_batch_id_batch')),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_case.id'], name=op.f('fk_spot_check_case_id_oversight_case')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_spot_check_created_by_app_user')),
    sa.ForeignKeyConstraint(['report_attachment_id'], ['attachment.id'], name=op.f('fk_spot_check_report_attachment_id_attachment')),
    sa.ForeignKeyConstraint(['season_id'], ['season.id'], name=op.f('fk_spot_check_season_id_season')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_spot_check_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check')),
    sa.UniqueConstraint('batch_id', 'lab', 'report_no', name=op.f('uq_spot_check_batch_id_lab_report_no'))
    )
    with op.batch_alter_table('spot_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_check_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_spot_check_season_id'), ['season_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_spot_check_supplier_id'), ['supplier_id'], unique=False)

    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moisture_cpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mercury_ng_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('arsenic_ug_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('phosphorus_mpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chlorine_mpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fluorine_ug_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('strength_n', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('drop_cpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('frozen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('quality_standard', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_moisture_cpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_mercury_ng_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_arsenic_ug_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_phosphorus_mpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_chlorine_mpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_fluorine_ug_g', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_strength_n', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_drop_cpct', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('preset', sa.String(length=32), server_default='', nullable=False))
        batch_op.alter_column('max_volatile_cpct',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('max_sulfur_cpct',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('max_ash_cpct',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('min_calorific_kj_kg',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('season', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retest_days', sa.Integer(), server_default='30', nullable=False))



def downgrade() -> None:
    # A "not applicable" limit has no value in the old schema: the loosest one stands in for it.
    for column, loosest in (("max_volatile_cpct", 10000), ("max_sulfur_cpct", 10000), ("max_ash_cpct", 10000),
                            ("min_calorific_kj_kg", 0)):
        op.execute(f"UPDATE quality_standard SET {column} = {loosest} WHERE {column} IS NULL")
    # Plain DROP COLUMNs, on SQLite (3.35+) too: batch mode would rebuild season and batch, and their DROP TABLE is
    # refused by the foreign keys of everything that refers to them. None of these columns is in an index.
    op.execute("ALTER TABLE season DROP COLUMN retest_days")

    with op.batch_alter_table('quality_standard', schema=None) as batch_op:
        for column in ('min_calorific_kj_kg', 'max_ash_cpct', 'max_sulfur_cpct', 'max_volatile_cpct'):
            batch_op.alter_column(column, existing_type=sa.INTEGER(), nullable=False)
        for column in ('preset', 'min_drop_cpct', 'min_strength_n', 'max_fluorine_ug_g', 'max_chlorine_mpct',
                       'max_phosphorus_mpct', 'max_arsenic_ug_g', 'max_mercury_ng_g', 'max_moisture_cpct'):
            batch_op.drop_column(column)

    for column in ('frozen_at', 'drop_cpct', 'strength_n', 'fluorine_ug_g', 'chlorine_mpct', 'phosphorus_mpct',
                   'arsenic_ug_g', 'mercury_ng_g', 'moisture_cpct'):
        op.execute(f"ALTER TABLE batch DROP COLUMN {column}")

    with op.batch_alter_table('spot_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_check_supplier_id'))
        batch_op.drop_index(batch_op.f('ix_spot_check_season_id'))
        batch_op.drop_index(batch_op.f('ix_spot_check_batch_id'))

    op.drop_table('spot_check')
