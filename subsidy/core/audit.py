"""The tamper-evident audit log (DESIGN.md invariant 4).

Services call `record(...)` as they change things; the entries are chained and written just before the transaction
commits (a `before_commit` hook), so the lock on the chain's head is held for the shortest time and a rolled-back
transaction leaves no entry. Each entry's hash covers the previous entry's hash and its own content; `verify()`
walks the chain and names the first entry that does not match.

ID numbers and phones are masked in the snapshots: the log must never carry them whole (invariant 5).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.rules.idnumbers import mask_id_number, mask_phone
from subsidy.rules.text import without_unwanted
from subsidy.models import AuditEntry, AuditHead

GENESIS = "0" * 64
_MASKED = {"id_number": mask_id_number, "phone": mask_phone, "contact_phone": mask_phone}
_OMITTED = {"password_hash", "token_hash", "data"}


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


def entry_hash(prev_hash: str, entry) -> str:
    return _hash(prev_hash, entry.at, entry.user_id, entry.username, entry.action, entry.entity, entry.entity_id,
                 entry.before, entry.after)


def _hash(prev_hash: str, at: datetime, user_id, username: str, action: str, entity: str, entity_id: str,
          before: str, after: str) -> str:
    content = "\x1f".join([prev_hash, _stamp(at), str(user_id or ""), username, action, entity, entity_id, before,
                           after])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


_head_t, _entry_t = AuditHead.__table__, AuditEntry.__table__
_LOCK_HEAD = select(_head_t.c.last_hash, _head_t.c.count).where(_head_t.c.id == 1).with_for_update()
_INSERT_ENTRIES = insert(_entry_t)
_MOVE_HEAD = update(_head_t).where(_head_t.c.id == 1).values(last_hash=bindparam("new_hash"),
                                                             count=bindparam("new_count"))
# PostgreSQL: the entry and the head's move in one statement (a data-modifying CTE runs whether or not it is read).
_ENTRY_COLUMNS = ("at", "user_id", "username", "action", "entity", "entity_id", "before", "after", "prev_hash", "hash")
_APPEND_ONE_PG = (insert(_entry_t).values({name: bindparam(f"e_{name}") for name in _ENTRY_COLUMNS})
                  .add_cte(_MOVE_HEAD.cte("moved_head")))


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Chain this transaction's entries onto the head, as late as possible: every audited write in the district
    queues on the head row, so it is locked only for these three statements and the commit (Core, no ORM work)."""
    if not session.info.get("audit_pending"):
        return
    session.flush()  # the transaction's own changes first, outside the head lock
    pending = session.info.pop("audit_pending", None)
    if not pending:
        return
    conn = session.connection()
    head = conn.execute(_LOCK_HEAD).first()
    if head is None:  # created by migration 0001; a database made otherwise gets it here
        conn.execute(insert(_head_t), {"id": 1, "last_hash": GENESIS, "count": 0})
        head = conn.execute(_LOCK_HEAD).first()
    prev = head.last_hash
    moment = clock.now()
    rows = []
    for item in pending:
        digest = _hash(prev, moment, item.user_id, item.username, item.action, item.entity, item.entity_id,
                       item.before, item.after)
        rows.append({"at": moment, "user_id": item.user_id, "username": item.username, "action": item.action,
                     "entity": item.entity, "entity_id": item.entity_id, "before": item.before,
                     "after": item.after, "prev_hash": prev, "hash": digest})
        prev = digest
    if len(rows) == 1 and conn.dialect.name == "postgresql":  # one round trip fewer under the lock
        conn.execute(_APPEND_ONE_PG, {**{f"e_{k}": v for k, v in rows[0].items()}, "new_hash": prev,
                                      "new_count": head.count + 1})
    else:
        conn.execute(_INSERT_ENTRIES, rows)
        conn.execute(_MOVE_HEAD, {"new_hash": prev, "new_count": head.count + len(pending)})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop("audit_pending", None)


@dataclass
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify(session: Session, batch_size: int = 5000) -> ChainReport:
    """Walk the whole chain in id order, recomputing every hash."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch_size)
            .execution_options(unscoped=True)
        ).scalars().all()
        if not rows:
            break
        for entry in rows:
            if entry.prev_hash != prev:
                return ChainReport(checked, entry.id, "上一条记录的哈希不符（记录被删除或插入）")
            if entry_hash(prev, entry) != entry.hash:
                return ChainReport(checked, entry.id, "记录内容与哈希不符（记录被修改）")
            prev = entry.hash
            checked += 1
            last_id = entry.id
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_hash != prev or head.count != checked):
        return ChainReport(checked, last_id or None, "日志末尾的记录被删除")
    return ChainReport(checked, None)


def entries_page(session: Session, *, action: str | None = None, username: str | None = None, page: int = 1,
                 per_page: int = 50) -> tuple[list[AuditEntry], int]:
    """The log newest first (by id), optionally one action or one user's entries."""
    from sqlalchemy import func

    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    # Filters are not stored: a stray control character is dropped (PostgreSQL would refuse a NUL with an error).
    action, username = without_unwanted(action or ""), without_unwanted(username or "")
    if action:
        query, count = query.where(AuditEntry.action == action), count.where(AuditEntry.action == action)
    if username:
        # By user id (indexed); "system" is the command line and migrations.
        from subsidy.models import User

        if username == "system":
            condition = AuditEntry.user_id.is_(None)
        else:
            user_id = session.execute(select(User.id).where(User.username == username.strip().lower())
                                      .execution_options(unscoped=True)).scalar_one_or_none()
            condition = AuditEntry.user_id == (user_id if user_id is not None else -1)
        query, count = query.where(condition), count.where(condition)
    total = session.execute(count).scalar_one()
    rows = session.execute(query.order_by(AuditEntry.id.desc()).offset((max(page, 1) - 1) * per_page)
                           .limit(per_page)).scalars().all()
    return list(rows), total


def actions(session: Session) -> list[str]:
    return list(session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars())
