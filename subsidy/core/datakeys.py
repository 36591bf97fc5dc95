"""The data keys against the stored rows (subsidy/core/vault.py): the check the server and the CLI run when they
start, and the rotation that re-encrypts every sealed value under the current key.

`check_keys` opens the oldest and the newest sealed row of each table: rotation goes in id order, so those two are
the ones most likely to be under a key that is no longer configured. A key id that is not configured, a secret that
does not decrypt, or a lookup key that does not give the stored hash stops the start with a `VaultError` saying
which; nothing answers with garbage or silently finds nobody.

`rotate` walks each table by id, `batch` rows per transaction (the app keeps serving: a sale waits at most for one
batch's row locks), rewriting only the values sealed under another key than the current one. The hashes do not
change (the lookup key does not rotate; vault.py says why). Run it after setting the new SUBSIDY_DATA_KEY with the
old one moved to SUBSIDY_DATA_OLD_KEYS; once it reports 0 left, the old key may be removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.engine import Engine

from subsidy.core import db
from subsidy.core.vault import VaultError, vault
from subsidy.models import Household, Slip

SEALED_TABLES = (Household, Slip)
FIELDS = ("id_number", "phone")


def _stored(column):
    """A sealed column as the text it is stored as (read or compared without decrypting), labelled `<field>`."""
    return type_coerce(column, String()).label(column.key)


def check_keys(engine: Engine | None = None) -> None:
    """Raise VaultError unless the configured keys open the oldest and newest row of each sealed table and give
    its stored lookup hash."""
    v = vault()
    with db.new_session(engine, read_only=True) as session:
        connection = session.connection()
        for model in SEALED_TABLES:
            table = model.__table__
            ends = connection.execute(select(func.min(table.c.id), func.max(table.c.id))).one()
            for row_id in {i for i in ends if i is not None}:
                row = connection.execute(select(*(_stored(table.c[f]) for f in FIELDS),
                                                *(table.c[f"{f}_hmac"] for f in FIELDS))
                                         .where(table.c.id == row_id)).one()
                for f in FIELDS:
                    token = getattr(row, f)
                    plain = v.open(f, token)
                    if token and v.blind(f, plain) != getattr(row, f"{f}_hmac"):
                        raise VaultError(f"SUBSIDY_LOOKUP_KEY is not the key the stored {table.name} rows were "
                                         "hashed with: lookups would find nobody. Set the key the database was "
                                         "written with (it does not rotate; see the README).")


@dataclass
class Rotation:
    rewritten: dict[str, int] = field(default_factory=dict)
    key_id: str = ""


def rotate(engine: Engine | None = None, *, batch: int = 1000) -> Rotation:
    """Re-encrypt every sealed value that is not under the current data key, `batch` rows per transaction."""
    v = vault()
    if v.current_id is None:
        raise VaultError("SUBSIDY_DATA_KEY is not set: there is no key to rotate to.")
    done = Rotation(key_id=v.current_id)
    for model in SEALED_TABLES:
        table = model.__table__
        # The plaintext goes back through the sealed columns' type, which seals it under the current key.
        write = update(table).where(table.c.id == bindparam("_id")).values({f: bindparam(f"_{f}") for f in FIELDS})
        last, count = 0, 0
        while True:
            with db.transaction(engine) as session:
                connection = session.connection()
                rows = connection.execute(select(table.c.id, *(_stored(table.c[f]) for f in FIELDS))
                                          .where(table.c.id > last).order_by(table.c.id).limit(batch)
                                          .with_for_update()).all()
                if not rows:
                    break
                last = rows[-1].id
                changes = []
                for row in rows:
                    tokens = {f: getattr(row, f) for f in FIELDS}
                    if all(not t or v.key_id_of(t) == v.current_id for t in tokens.values()):
                        continue
                    changes.append({"_id": row.id, **{f"_{f}": v.open(f, t) for f, t in tokens.items()}})
                if changes:
                    connection.execute(write, changes)
                    count += len(changes)
        done.rewritten[table.name] = count
    return done


def remaining(engine: Engine | None = None) -> dict[str, int]:
    """How many rows of each sealed table still hold a value under another key than the current one."""
    v = vault()
    out = {}
    with db.new_session(engine, read_only=True) as session:
        connection = session.connection()
        for model in SEALED_TABLES:
            table = model.__table__
            prefix = f"{v.current_id}:"
            conditions = [(type_coerce(table.c[f], String()) != "")
                          & ~type_coerce(table.c[f], String()).startswith(prefix, autoescape=True) for f in FIELDS]
            out[table.name] = connection.execute(select(func.count()).select_from(table)
                                                 .where(or_(*conditions))).scalar_one()
    return out
