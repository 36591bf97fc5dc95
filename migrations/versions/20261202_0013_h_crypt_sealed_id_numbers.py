"""ID numbers and phones sealed at rest (h-crypt)

household and slip each trade their plaintext id_number and phone for three columns per field (subsidy/core/vault.py):
`<field>_sealed` (AES-256-GCM under SUBSIDY_DATA_KEY, the key id in front), `<field>_hmac` (HMAC-SHA256 under
SUBSIDY_LOOKUP_KEY: equality and uniqueness; the district's unique ID number moves from uq_household_id_number to
uq_household_id_number_hmac) and `<field>_tail` (the last four characters, for tail search). The existing rows are
sealed 1,000 at a time, then the plaintext columns are dropped. Both keys must therefore be set when a database that
holds households is upgraded (the upgrade says so and changes nothing otherwise).

The new columns are added NOT NULL with a server default of '' so that SQLite can add them to a table with rows; on
PostgreSQL the defaults are dropped again (the application always writes them). On SQLite the slip table keeps them
(dropping one means rebuilding the table) and its plaintext columns go by a plain DROP COLUMN (SQLite 3.35+): they
are in no index or constraint. household is rebuilt (batch mode) to drop the unique constraint with its column; on
SQLite that DROP TABLE would fail on the registrations and slips that refer to it, so this revision commits what the
revisions before it wrote, turns the connection's foreign keys off (a no-op inside a transaction), runs in one
transaction of its own and checks every foreign key before it ends (`PRAGMA foreign_key_check`). env.py disposes of
the connection after the upgrade, so the application never sees it with foreign keys off.

Revision ID: 0013_h_crypt
Revises: 0013_h_nav
Create Date: 2026-12-02 06:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0013_h_crypt'
down_revision: Union[str, Sequence[str], None] = '0013_h_nav'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 1000
FIELDS = ("id_number", "phone")


def _add_columns(table: str) -> None:
    for field in FIELDS:
        op.add_column(table, sa.Column(f"{field}_sealed", sa.String(length=160), nullable=False, server_default=""))
        op.add_column(table, sa.Column(f"{field}_hmac", sa.String(length=64), nullable=False, server_default=""))
        op.add_column(table, sa.Column(f"{field}_tail", sa.String(length=4), nullable=False, server_default=""))


def _seal_rows(table: str) -> None:
    """Seal every row's plaintext, BATCH rows at a time in id order."""
    from subsidy.core import vault

    conn = op.get_bind()
    read = sa.text(f"SELECT id, id_number, phone FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}")
    write = sa.text(f"UPDATE {table} SET " + ", ".join(f"{f}_sealed = :{f}_sealed, {f}_hmac = :{f}_hmac, "
                                                       f"{f}_tail = :{f}_tail" for f in FIELDS) + " WHERE id = :id")
    last = 0
    while True:
        rows = conn.execute(read, {"last": last}).all()
        if not rows:
            break
        v = vault.vault()
        conn.execute(write, [{"id": row.id, **{f"{f}_sealed": v.seal(f, getattr(row, f)) for f in FIELDS},
                              **vault.lookups(id_number=row.id_number, phone=row.phone)} for row in rows])
        last = rows[-1].id


def _drop_defaults(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for field in FIELDS:
            for suffix in ("sealed", "hmac", "tail"):
                op.alter_column(table, f"{field}_{suffix}", server_default=None)


def _foreign_keys_off_on_sqlite() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.commit()
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys_on_sqlite() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"rebuilding household broke {len(broken)} foreign key(s), e.g. {broken[0]}")


def upgrade() -> None:
    _foreign_keys_off_on_sqlite()
    _add_columns("household")
    _add_columns("slip")
    _seal_rows("household")
    _seal_rows("slip")
    _drop_defaults("household")
    _drop_defaults("slip")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index("ix_household_phone")
        batch_op.drop_constraint("uq_household_id_number", type_="unique")
        batch_op.drop_column("id_number")
        batch_op.drop_column("phone")
        batch_op.create_unique_constraint(batch_op.f("uq_household_id_number_hmac"), ["id_number_hmac"])
        batch_op.create_index(batch_op.f("ix_household_id_number_tail"), ["id_number_tail"], unique=False)
        batch_op.create_index(batch_op.f("ix_household_phone_hmac"), ["phone_hmac"], unique=False)
        batch_op.create_index(batch_op.f("ix_household_phone_tail"), ["phone_tail"], unique=False)
    op.drop_column("slip", "id_number")
    op.drop_column("slip", "phone")
    _check_foreign_keys_on_sqlite()


def _open_rows(table: str) -> None:
    from subsidy.core import vault

    conn = op.get_bind()
    read = sa.text(f"SELECT id, id_number_sealed, phone_sealed FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}")
    write = sa.text(f"UPDATE {table} SET id_number = :id_number, phone = :phone WHERE id = :id")
    last = 0
    while True:
        rows = conn.execute(read, {"last": last}).all()
        if not rows:
            break
        conn.execute(write, [{"id": row.id, "id_number": vault.open_sealed("id_number", row.id_number_sealed),
                              "phone": vault.open_sealed("phone", row.phone_sealed) or ""} for row in rows])
        last = rows[-1].id


def downgrade() -> None:
    _foreign_keys_off_on_sqlite()
    for table in ("household", "slip"):
        op.add_column(table, sa.Column("id_number", sa.String(length=18), nullable=False, server_default=""))
        op.add_column(table, sa.Column("phone", sa.String(length=20), nullable=False, server_default=""))
        _open_rows(table)
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_phone_tail"))
        batch_op.drop_index(batch_op.f("ix_household_phone_hmac"))
        batch_op.drop_index(batch_op.f("ix_household_id_number_tail"))
        batch_op.drop_constraint(batch_op.f("uq_household_id_number_hmac"), type_="unique")
        for field in FIELDS:
            for suffix in ("sealed", "hmac", "tail"):
                batch_op.drop_column(f"{field}_{suffix}")
        batch_op.create_unique_constraint(batch_op.f("uq_household_id_number"), ["id_number"])
        batch_op.create_index(batch_op.f("ix_household_phone"), ["phone"], unique=False)
    for field in FIELDS:
        for suffix in ("sealed", "hmac", "tail"):
            op.drop_column("slip", f"{field}_{suffix}")
    _check_foreign_keys_on_sqlite()
