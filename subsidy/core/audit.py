"""The audit log (DESIGN.md invariants 4 and 8): who changed what, when, kept so that a change made by someone with
access to the database alone is detected, and so that writers never wait for each other to log.

Writing. Services call `record(...)` as they change things; the entries are inserted just before the transaction
commits (a `before_commit` hook), in the writer's own transaction, so that a change and its entry commit together or
not at all. Each entry carries an HMAC of its content under the audit key (`SUBSIDY_AUDIT_KEY`, kept outside the
database and apart from `SECRET_KEY`) and the id of that key. Nothing shared is touched: ids come from the table's
own sequence, so a thousand writers append at once without a lock between them.

Sealing. A sealer (`seal`, run inside the server every few seconds by one process at a time and by `subsidy audit
seal`) links the entries committed since the last seal, in a well-defined order, into a hash chain: each link's hash
covers the previous link's, the entry's id and its HMAC, under the audit key; and it records the new head as a seal
(`audit_seal`: sequence, entries up to here, head, time) signed with the key. Links and seals are append-only too.

Which entries a seal may take, so that none is ever passed over: on PostgreSQL commit order can differ from id order
(a transaction that took id 10 may commit after the one that took id 11), so "everything above the last sealed id"
would lose entry 10. Each entry records the id of the transaction that wrote it (`xid`); each seal records the
oldest transaction still running when it looked (`pg_snapshot_xmin`, read before it reads the entries). Every
transaction older than that horizon had ended, so all of its entries were visible to that seal and were linked by it.
The next seal therefore need only look at entries written by transactions at or above that horizon, skipping those
already linked. On SQLite, writers hold the database lock from their first write to their commit, so ids are
committed in order and "above the last linked id" is exact. A crash between a commit and a seal loses nothing: the
next seal finds the entry by the same rule.

Verifying. `verify` recomputes every entry's HMAC (an edit shows), walks the links in order and recomputes each seal's
head and signature (a removal, an insertion or a reordering shows), and reports the entries committed but not yet
sealed. Without the key, a rewrite cannot be made to verify. What the key cannot catch alone, the removal of the
newest seals together with their entries, the bureau catches with a seal's signed head printed or exported at any
moment (`head_of` and the 审计日志 page): `verify(expected=...)` proves that nothing up to that head changed. On
PostgreSQL the tables refuse UPDATE, DELETE and TRUNCATE to everyone, by triggers (migration 0011); the README's
production steps give the application's role no right to drop them.

Keys. `SUBSIDY_AUDIT_KEY=<id>:<secret>` signs new entries and seals; keys retired by a rotation stay in
`SUBSIDY_AUDIT_OLD_KEYS` (comma-separated, same form) so that older entries still verify. Every entry and seal
names its key.

ID numbers and phones are masked in the snapshots: the log must never carry them whole (invariant 5).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, cast, event, func, insert, inspect, literal_column, select
from sqlalchemy.orm import Session

from subsidy.core import clock, paging
from subsidy.core.settings import AuditKeys, get_settings
from subsidy.models import AuditEntry, AuditLink, AuditSeal
from subsidy.rules.idnumbers import mask_id_number, mask_phone
from subsidy.rules.text import without_unwanted

GENESIS = "0" * 64
SEAL_CHUNK = 5000  # links per seal: a seal after a long pause is several seals, each one statement of links
_SEALER_LOCK = 0x5EA1  # the PostgreSQL advisory lock that lets one process seal at a time
_MASKED = {"id_number": mask_id_number, "phone": mask_phone, "contact_phone": mask_phone}
# The lookup hashes and tails of sealed fields (subsidy/core/vault.py) add nothing to the masked value but a token
# that finds the person.
_OMITTED = {"password_hash", "token_hash", "data", "id_number_hmac", "id_number_tail", "id_number_tail6_hmac",
            "phone_hmac", "phone_tail"}


def masked(values: dict) -> dict:
    """A copy of column values with the sensitive ones masked or left out (for changes written with Core)."""
    return {name: (_MASKED[name](value) if name in _MASKED and value else value)
            for name, value in values.items() if name not in _OMITTED}


def snapshot(obj: Any) -> dict:
    """The columns of a table object as plain JSON-able values, sensitive ones masked or left out."""
    if obj is None:
        return {}
    values = {}
    for column in inspect(obj).mapper.column_attrs:
        name = column.key
        if name in _OMITTED:
            continue
        value = getattr(obj, name)
        if name in _MASKED and value:
            value = _MASKED[name](value)
        values[name] = value
    return values


def _json(values: dict | None) -> str:
    if not values:
        return ""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value):
    if isinstance(value, datetime):
        return _stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


# ----------------------------------------------------------------------------------------------- keyed hashes


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def entry_mac(secret: bytes, entry) -> str:
    """The HMAC of an entry's content (everything but its id, which the seal binds)."""
    return _mac(secret, _stamp(entry.at), str(entry.user_id or ""), entry.username, entry.action, entry.entity,
                entry.entity_id, entry.before, entry.after)


def link_hash(secret: bytes, prev: str, position: int, entry_id: int, mac: str) -> str:
    return _mac(secret, prev, str(position), str(entry_id), mac)


def seal_signature(secret: bytes, seal) -> str:
    return _mac(secret, str(seal.id), str(seal.last_position), seal.prev_head, seal.head, _stamp(seal.sealed_at))


# ----------------------------------------------------------------------------------------------- writing


@dataclass
class _Pending:
    user_id: int | None
    username: str
    action: str
    entity: str
    entity_id: str
    before: str
    after: str


def record(session: Session, actor, action: str, entity: Any, *, before: dict | None = None,
           after: dict | None = None, entity_name: str | None = None, entity_id: Any = None) -> None:
    """Remember a change to log when this transaction commits. `entity` is a table object (its snapshot becomes
    `after` unless given) or a name. `actor` is a User or None for the system (the command line, migrations)."""
    if not isinstance(entity, str):
        session.flush([entity]) if entity in session.new else None
        entity_name = entity_name or type(entity).__tablename__
        entity_id = entity_id if entity_id is not None else getattr(entity, "id", "")
        if after is None:
            after = snapshot(entity)
    else:
        entity_name = entity
    session.info.setdefault("audit_pending", []).append(
        _Pending(
            user_id=getattr(actor, "id", None),
            username=getattr(actor, "username", "system") if actor is not None else "system",
            action=action,
            entity=entity_name,
            entity_id="" if entity_id is None else str(entity_id),
            before=_json(before),
            after=_json(after),
        )
    )


_entry_t, _link_t, _seal_t = AuditEntry.__table__, AuditLink.__table__, AuditSeal.__table__
_ENTRY_COLUMNS = ("at", "user_id", "username", "action", "entity", "entity_id", "before", "after", "key_id", "mac")
_INSERT_ENTRIES = insert(_entry_t).values({name: bindparam(name) for name in _ENTRY_COLUMNS})
# PostgreSQL: the writing transaction's id, for the sealer's horizon (not a fork: see the module docstring).
_XACT_ID = cast(cast(literal_column("pg_current_xact_id()"), Text), BigInteger)
_INSERT_ENTRIES_PG = insert(_entry_t).values({**{name: bindparam(name) for name in _ENTRY_COLUMNS}, "xid": _XACT_ID})


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Insert this transaction's entries, as its last statement before the commit: one INSERT, no lock."""
    if not session.info.get("audit_pending"):
        return
    session.flush()
    pending = session.info.pop("audit_pending", None)
    if not pending:
        return
    key_id, secret = get_settings().audit_keys.current()
    moment = clock.now()
    rows = []
    for item in pending:
        row = {"at": moment, "user_id": item.user_id, "username": item.username, "action": item.action,
               "entity": item.entity, "entity_id": item.entity_id, "before": item.before, "after": item.after,
               "key_id": key_id}
        row["mac"] = entry_mac(secret, _Row(row))
        rows.append(row)
    conn = session.connection()
    conn.execute(_INSERT_ENTRIES_PG if conn.dialect.name == "postgresql" else _INSERT_ENTRIES, rows)


class _Row:
    """Attribute access to a dict, so that `entry_mac` reads a row about to be inserted as it reads a stored one."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop("audit_pending", None)


# ----------------------------------------------------------------------------------------------- sealing


@dataclass(frozen=True)
class Head:
    """A seal's signed head, as the bureau prints or exports it: enough for a later `verify` to prove that nothing
    up to here changed."""

    seq: int
    entries: int
    head: str
    sealed_at: datetime
    key_id: str
    signature: str

    def as_text(self) -> str:
        return f"{self.seq}:{self.head}"


def _last_seal(session: Session):
    return session.execute(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)
                           .execution_options(unscoped=True)).scalar_one_or_none()


def seal(session: Session) -> list[Head]:
    """Link every entry committed since the last seal and sign the new head(s); returns the seals made (none when
    there was nothing new, or when another process is sealing right now). The caller commits."""
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        if not conn.execute(select(func.pg_try_advisory_xact_lock(_SEALER_LOCK))).scalar():
            return []
        # Read the horizon BEFORE the entries (see the module docstring): every transaction older than it has ended.
        horizon = conn.execute(select(cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text),
                                           BigInteger))).scalar_one()
    last = _last_seal(session)
    position = last.last_position if last else 0
    prev = last.head if last else GENESIS
    floor = last.horizon if last else None
    linked = select(_link_t.c.entry_id).where(_link_t.c.entry_id == _entry_t.c.id).exists()
    if postgres:  # commit order is not id order there (the module docstring): not a fork, the rule differs
        where = [~linked] + ([_entry_t.c.xid >= floor] if floor is not None else [])
    else:
        top = conn.execute(select(func.max(_link_t.c.entry_id))).scalar() or 0
        where = [_entry_t.c.id > top]
    candidates = conn.execute(select(_entry_t.c.id, _entry_t.c.mac).where(*where).order_by(_entry_t.c.id)).all()
    if not candidates:
        return []
    key_id, secret = get_settings().audit_keys.current()
    made = []
    seq = last.id if last else 0
    for start in range(0, len(candidates), SEAL_CHUNK):
        chunk = candidates[start:start + SEAL_CHUNK]
        seq += 1
        links = []
        first_position, first_prev = position + 1, prev
        for entry_id, mac in chunk:
            position += 1
            prev = link_hash(secret, prev, position, entry_id, mac)
            links.append({"position": position, "entry_id": entry_id, "seal_id": seq, "hash": prev})
        final = start + SEAL_CHUNK >= len(candidates)
        row = AuditSeal(id=seq, sealed_at=clock.now(), first_position=first_position, last_position=position,
                        prev_head=first_prev, head=prev, key_id=key_id,
                        horizon=(horizon if final else floor) if postgres else None, signature="")
        row.signature = seal_signature(secret, row)
        conn.execute(insert(_seal_t), [{c.name: getattr(row, c.name) for c in _seal_t.c}])
        conn.execute(insert(_link_t), links)
        made.append(_head(row))
    return made


def seal_pending(engine=None) -> list[Head]:
    """One seal in a transaction of its own: the server's background step and `subsidy audit seal`."""
    from subsidy.core import db

    with db.transaction(engine) as session:
        return seal(session)


def _head(row) -> Head:
    return Head(row.id, row.last_position, row.head, row.sealed_at, row.key_id, row.signature)


def head_of(session: Session) -> Head | None:
    """The newest seal's signed head, for the bureau to print or export."""
    last = _last_seal(session)
    return _head(last) if last else None


# ----------------------------------------------------------------------------------------------- verifying


@dataclass
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str = ""
    unsealed: int = 0
    head: Head | None = None

    @property
    def ok(self) -> bool:
        return not self.reason


def verify(session: Session, *, expected: tuple[int, str] | None = None, batch_size: int = 5000) -> ChainReport:
    """Check every entry's HMAC, every link and every seal, in order; name the first entry (or the seal's last) that
    does not hold. `expected` = (seal sequence, head) as printed earlier: that seal must still be there, unchanged."""
    keys = get_settings().audit_keys
    checked, position, prev = 0, 0, GENESIS
    seals = {s.id: s for s in session.execute(select(AuditSeal).order_by(AuditSeal.id)
                                              .execution_options(unscoped=True)).scalars()}
    for number, (seq, s) in enumerate(seals.items(), start=1):
        secret = keys.get(s.key_id)
        if secret is None:
            return ChainReport(checked, None, f"第 {seq} 次封存的签名密钥 {s.key_id} 未配置，无法校验")
        if seq != number or s.prev_head != prev or s.first_position != position + 1:
            return ChainReport(checked, None, f"第 {seq} 次封存与上一次衔接不上（封存记录被删除或插入）")
        if not hmac.compare_digest(seal_signature(secret, s), s.signature):
            return ChainReport(checked, None, f"第 {seq} 次封存的签名不符（封存记录被修改）")
        while position < s.last_position:
            rows = session.execute(
                select(_link_t.c.position, _link_t.c.entry_id, _link_t.c.hash, AuditEntry)
                .outerjoin(AuditEntry, AuditEntry.id == _link_t.c.entry_id)
                .where(_link_t.c.position > position, _link_t.c.position <= s.last_position)
                .order_by(_link_t.c.position).limit(batch_size).execution_options(unscoped=True)).all()
            if not rows:
                return ChainReport(checked, None, f"第 {seq} 次封存的链接缺失（第 {position + 1} 条起）")
            for link_position, entry_id, stored_hash, entry in rows:
                if link_position != position + 1:
                    return ChainReport(checked, entry_id, "链接的位置不连续（链接被删除）")
                if entry is None:
                    return ChainReport(checked, entry_id, "记录已被删除")
                broken = _entry_problem(keys, entry)
                if broken:
                    return ChainReport(checked, entry.id, broken)
                position = link_position
                prev = link_hash(secret, prev, position, entry.id, entry.mac)
                if stored_hash != prev:
                    return ChainReport(checked, entry.id, "链接的哈希不符（链接被修改）")
                checked += 1
            session.expunge_all()
        if prev != s.head:
            return ChainReport(checked, None, f"第 {seq} 次封存的链头不符（链接被删除或改动）")
    last = seals[max(seals)] if seals else None
    if expected is not None:
        seq, head = expected
        kept = seals.get(seq)
        if kept is None or kept.head != head:
            return ChainReport(checked, None, f"打印保存的第 {seq} 次封存已不在日志中或已被改变（日志末尾被删除或重写）",
                               head=_head(last) if last else None)
    # Entries committed since the last seal: their HMACs hold now, the next seal chains them.
    unsealed = 0
    linked = select(_link_t.c.entry_id).where(_link_t.c.entry_id == AuditEntry.id).exists()
    for entry in session.execute(select(AuditEntry).where(~linked).order_by(AuditEntry.id)
                                 .execution_options(unscoped=True, yield_per=batch_size)).scalars():
        broken = _entry_problem(keys, entry)
        if broken:
            return ChainReport(checked, entry.id, broken, unsealed, _head(last) if last else None)
        unsealed += 1
    return ChainReport(checked + unsealed, None, unsealed=unsealed, head=_head(last) if last else None)


def verify_database(engine=None, *, expected: tuple[int, str] | None = None) -> ChainReport:
    """`verify` in a read-only session of its own: for the command line, a restore's check and the tests."""
    from subsidy.core import db

    session = db.new_session(engine, read_only=True)
    try:
        return verify(session, expected=expected)
    finally:
        session.rollback()
        session.close()


def _entry_problem(keys: AuditKeys, entry) -> str:
    secret = keys.get(entry.key_id)
    if secret is None:
        return f"记录的签名密钥 {entry.key_id} 未配置，无法校验"
    if not hmac.compare_digest(entry_mac(secret, entry), entry.mac):
        return "记录内容与签名不符（记录被修改）"
    return ""


def sealed_ids(session: Session, ids: list[int]) -> set[int]:
    """Which of these entries are sealed (the log page marks the others as waiting for the next seal)."""
    if not ids:
        return set()
    return set(session.execute(select(_link_t.c.entry_id).where(_link_t.c.entry_id.in_(ids))).scalars())


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LogFilter:
    """What the 审计日志 page and its spreadsheet are narrowed to; every part optional. `who` is a user name or a
    person's name ("system": the command line and migrations); `since`/`until` are days in China time, both
    included; `entity` a kind of record (`household`, `slip`, ...) and `entity_id` one of them."""

    action: str = ""
    who: str = ""
    entity: str = ""
    entity_id: str = ""
    since: date | None = None
    until: date | None = None

    def cleaned(self) -> "LogFilter":
        # Filters are not stored: a stray control character is dropped (PostgreSQL would refuse a NUL with an error).
        return LogFilter(*(without_unwanted(v or "").strip() for v in (self.action, self.who, self.entity,
                                                                           self.entity_id)),
                         since=self.since, until=self.until)

    def conditions(self, session: Session) -> list:
        from subsidy.models import User

        flt, found = self.cleaned(), []
        if flt.action:
            found.append(AuditEntry.action == flt.action)
        if flt.who:
            # By user id (indexed); "system" is the command line and migrations.
            if flt.who == "system":
                found.append(AuditEntry.user_id.is_(None))
            else:
                ids = list(session.execute(select(User.id).where(
                    (User.username == flt.who.lower()) | (User.display_name == flt.who))
                    .execution_options(unscoped=True)).scalars())
                found.append(AuditEntry.user_id.in_(ids or [-1]))
        if flt.entity:
            found.append(AuditEntry.entity == flt.entity)
        if flt.entity_id:
            found.append(AuditEntry.entity_id == flt.entity_id)
        if flt.since:
            found.append(AuditEntry.at >= _day_start(flt.since))
        if flt.until:
            found.append(AuditEntry.at < _day_start(flt.until + timedelta(days=1)))
        return found


def _day_start(day: date) -> datetime:
    """The first moment of a China day, in UTC (the log's `at` is UTC)."""
    return datetime.combine(day, time(0), clock.CST).astimezone(timezone.utc)


def entries_page(session: Session, flt: LogFilter | None = None, *, action: str | None = None,
                 username: str | None = None, **page) -> paging.Page:
    """A page of the log newest first (by id: the order it was written in), narrowed by `flt` (or by one action or
    one user's entries); paging.fetch's keyword arguments."""
    flt = flt or LogFilter(action=action or "", who=username or "")
    query = select(AuditEntry).where(*flt.conditions(session))
    return paging.fetch(session, query, paging.Order.of(None, {"id": AuditEntry.id}, "-id", AuditEntry.id), **page)


def iter_entries(session: Session, flt: LogFilter, *, limit: int, batch_size: int = 1000):
    """The same entries newest first, at most `limit`, read in batches (the spreadsheet export)."""
    stmt = (select(AuditEntry).where(*flt.conditions(session)).order_by(AuditEntry.id.desc()).limit(limit)
            .execution_options(yield_per=batch_size))
    yield from session.execute(stmt).scalars()


def actions(session: Session) -> list[str]:
    return list(session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars())
