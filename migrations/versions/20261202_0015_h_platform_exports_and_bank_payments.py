"""platform exports and bank payments

The platform data set's change markers (subsidy/platform/exports.py): `change_seq` on household, registration, slip,
batch and settlement, stamped by a trigger on every INSERT and UPDATE. PostgreSQL stamps the writing transaction's id
(`pg_current_xact_id()`); SQLite stamps the epoch of the one-row `export_clock`, which each export moves on. Rows
written before this revision keep 0 (the column's default: no table rewrite), so the first full export takes them.

Bank payments (subsidy/settlement/payments.py): `payment_file` and `payment` (one instruction per statement and
attempt; at most one that is not failed, `uq_payment_live`), and the statement's `payment_failed` status.

SQLite drops a table's triggers when batch mode rebuilds it: a later migration that rebuilds one of these five
tables must create its triggers again (`create_change_triggers` below).

Revision ID: 0015_h_platform
Revises: (see down_revision)
Create Date: 2026-12-02 10:08:29.468880
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0015_h_platform'
down_revision: Union[str, Sequence[str], None] = '0015_h_scale'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _foreign_keys_off_on_sqlite() -> None:
    """SQLite rebuilds settlement to change its CHECK: with foreign keys on, dropping the old table would fail while
    summaries refer to it (as in 0013_h_crypt)."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.commit()
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys_on_sqlite() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"rebuilding settlement broke {len(broken)} foreign key(s), e.g. {broken[0]}")


def upgrade() -> None:
    _foreign_keys_off_on_sqlite()
    op.create_table('export_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_clock'))
    )
    op.create_table('payment_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_payment_file_created_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_file')),
    sa.UniqueConstraint('number', name=op.f('uq_payment_file_number'))
    )
    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('payee_name', sa.String(length=100), nullable=False),
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('bank', sa.String(length=100), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bank_reference', sa.String(length=64), nullable=False),
    sa.Column('result_on', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('sent', 'paid', 'failed')", name=op.f('ck_payment_status')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payment_amount')),
    sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], name=op.f('fk_payment_decided_by_app_user')),
    sa.ForeignKeyConstraint(['file_id'], ['payment_file.id'], name=op.f('fk_payment_file_id_payment_file')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_payment_settlement_id_settlement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('settlement_id', 'attempt', name=op.f('uq_payment_settlement_id_attempt'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_file_id'), ['file_id'], unique=False)
        batch_op.create_index('uq_payment_live', ['settlement_id'], unique=True, postgresql_where=sa.text("status <> 'failed'"), sqlite_where=sa.text("status <> 'failed'"))

    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_batch_change_seq'), ['change_seq'], unique=False)

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_household_change_seq'), ['change_seq'], unique=False)

    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_registration_change_seq'), ['change_seq'], unique=False)

    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_settlement_change_seq'), ['change_seq'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_settlement_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_settlement_status'),
                                         "status IN ('settled', 'paid', 'payment_failed')")

    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), server_default='0', nullable=False))

    op.execute("INSERT INTO export_clock (id, epoch) VALUES (1, 1)")
    for table in TRACKED:
        create_change_triggers(table)
    _check_foreign_keys_on_sqlite()


TRACKED = ("household", "registration", "slip", "batch", "settlement")


def create_change_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION export_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.change_seq := pg_current_xact_id()::text::bigint;
                RETURN NEW;
            END $$""")
        op.execute(f"CREATE TRIGGER {table}_change_seq BEFORE INSERT OR UPDATE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION export_change_seq()")
        return
    epoch = "(SELECT epoch FROM export_clock WHERE id = 1)"
    op.execute(f"CREATE TRIGGER {table}_change_seq_insert AFTER INSERT ON {table} "
               f"BEGIN UPDATE {table} SET change_seq = {epoch} WHERE id = NEW.id; END")
    op.execute(f"CREATE TRIGGER {table}_change_seq_update AFTER UPDATE ON {table} "
               f"WHEN NEW.change_seq IS NOT {epoch} "
               f"BEGIN UPDATE {table} SET change_seq = {epoch} WHERE id = NEW.id; END")


def drop_change_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq ON {table}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq_insert")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq_update")


def downgrade() -> None:
    # Refused by the database while a statement is payment_failed (the old CHECK does not allow it).
    for table in TRACKED:
        drop_change_triggers(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS export_change_seq()")
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_live', postgresql_where=sa.text("status <> 'failed'"), sqlite_where=sa.text("status <> 'failed'"))
        batch_op.drop_index(batch_op.f('ix_payment_file_id'))

    op.drop_table('payment')
    op.drop_table('payment_file')
    _foreign_keys_off_on_sqlite()
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_settlement_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_settlement_status'), "status IN ('settled', 'paid')")
        batch_op.drop_index(batch_op.f('ix_settlement_change_seq'))
        batch_op.drop_column('change_seq')
    op.drop_column('slip', 'change_seq')
    for table in ('registration', 'household', 'batch'):
        op.drop_index(op.f(f'ix_{table}_change_seq'), table_name=table)
        op.drop_column(table, 'change_seq')

    op.drop_table('export_clock')
    _check_foreign_keys_on_sqlite()
