"""audit log keyed with a secret outside the database, sealed without a shared lock, append-only on PostgreSQL

Entries get an HMAC under the audit key (`key_id`, `mac`) and, on PostgreSQL, the id of the transaction that wrote
them (`xid`, the sealer's horizon); the single head row that every audited write locked goes, and a sealer links
committed entries into a chain and signs its head (`audit_link`, `audit_seal`). See subsidy/core/audit.py.

The entries already there are checked against their SHA-256 chain first (a broken chain refuses the upgrade: it
would otherwise be re-signed as if it were intact), then signed with the audit key and sealed, in id order. That needs
`SUBSIDY_AUDIT_KEY` set when the database has entries (the demo has a fixed key).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:40:00
"""
import hashlib
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate may still name AutoString)


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TABLES = ("audit_entry", "audit_link", "audit_seal")


def _legacy_chain_broken(connection) -> int | None:
    """The first entry whose SHA-256 link (the format of revision 0001) does not hold, or None."""
    from subsidy.core.audit import _stamp

    prev = "0" * 64
    rows = connection.execute(sa.text(
        'SELECT id, at, user_id, username, action, entity, entity_id, "before", "after", prev_hash, hash '
        'FROM audit_entry ORDER BY id')).all()
    for row in rows:
        content = "\x1f".join([prev, _stamp(_as_datetime(row.at)), str(row.user_id or ""), row.username, row.action,
                               row.entity, row.entity_id, row.before, row.after])
        if row.prev_hash != prev or hashlib.sha256(content.encode("utf-8")).hexdigest() != row.hash:
            return row.id
        prev = row.hash
    head = connection.execute(sa.text("SELECT last_hash, count FROM audit_head WHERE id = 1")).first()
    if head is not None and (head.last_hash != prev or head.count != len(rows)):
        return rows[-1].id if rows else 0
    return None


def _as_datetime(value):
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('xid', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entry_xid'), ['xid'], unique=False)
    op.create_table('audit_link',
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('position', name=op.f('pk_audit_link')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_audit_link_entry_id'))
    )
    with op.batch_alter_table('audit_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_link_seal_id'), ['seal_id'], unique=False)
    op.create_table('audit_seal',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sealed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('first_position', sa.Integer(), nullable=False),
    sa.Column('last_position', sa.Integer(), nullable=False),
    sa.Column('prev_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('horizon', sa.BigInteger(), nullable=True),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_seal'))
    )

    if connection.execute(sa.text("SELECT count(*) FROM audit_entry")).scalar():
        broken = _legacy_chain_broken(connection)
        if broken is not None:
            raise RuntimeError(f"The audit log's chain is broken at entry {broken}: refusing to sign it with the new "
                               "key as if it were intact. Investigate (subsidy audit verify on the old release).")
        _sign_and_seal(connection)

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.alter_column('key_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False)
        batch_op.alter_column('mac', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_audit_entry_hash'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_audit_entry_prev_hash'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    op.drop_table('audit_head')

    if connection.dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$""")
        for table in _TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")


def _sign_and_seal(connection) -> None:
    """Sign every entry with the current audit key, then seal them all in id order."""
    from sqlalchemy.orm import Session

    from subsidy.core import audit
    from subsidy.core.settings import get_settings

    keys = get_settings().audit_keys
    if not keys.configured:
        raise RuntimeError("This database has audit entries to sign: set SUBSIDY_AUDIT_KEY (see the README, "
                           "production) and run the upgrade again.")
    key_id, secret = keys.current()
    rows = connection.execute(sa.text(
        'SELECT id, at, user_id, username, action, entity, entity_id, "before", "after" FROM audit_entry')).all()
    for row in rows:
        entry = _Entry(row)
        connection.execute(sa.text("UPDATE audit_entry SET key_id = :k, mac = :m WHERE id = :i"),
                           {"k": key_id, "m": audit.entry_mac(secret, entry), "i": row.id})
    session = Session(bind=connection)
    audit.seal(session)
    session.flush()


class _Entry:
    def __init__(self, row) -> None:
        self.__dict__.update(row._mapping)
        self.at = _as_datetime(self.at)


def downgrade() -> None:
    raise RuntimeError("The keyed, sealed audit log cannot be turned back into the unkeyed chain without losing "
                       "what the keys prove; restore the backup taken before the upgrade instead.")
