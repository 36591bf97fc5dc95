"""Retries with an `Idempotency-Key` (CONTRACT.md): the same key from the same user with the same body answers the
first answer again without doing anything twice; with another body, 422.

Race-safe by the unique constraint (user_id, key) of `idempotent_request`: the key row is inserted in the SAME
transaction as the work, before it. A concurrent duplicate blocks on the unique index (PostgreSQL) or on the write lock
(SQLite, BEGIN IMMEDIATE) until the first commits, then skips its insert (ON CONFLICT DO NOTHING) and replays the
stored answer. If the first attempt fails (refused or crashed) its transaction rolls back with the key, so a retry runs again: refusals are not
remembered, only answers that changed something.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.core.db import run_in_transaction
from subsidy.core.errors import Conflict, SubsidyError
from subsidy.models import IdempotentRequest

MAX_KEY = 128


@dataclass
class Answer:
    status_code: int
    body: dict
    replayed: bool = False


class _Duplicate(Exception):
    pass


def body_hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _stored(session: Session, user_id: int, key: str) -> IdempotentRequest | None:
    return session.execute(
        select(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
        .execution_options(unscoped=True)
    ).scalar_one_or_none()


def _replay(row: IdempotentRequest, request_hash: str, method_path: str) -> Answer:
    if row.request_hash != request_hash or row.method_path != method_path:
        raise SubsidyError("该 Idempotency-Key 已用于另一个请求，请换一个新的键", field="Idempotency-Key")
    return Answer(row.status_code, json.loads(row.response_body), replayed=True)


_request_t = IdempotentRequest.__table__
_SAVE_ANSWER = (update(_request_t).where(_request_t.c.id == bindparam("request_id"))
                .values(status_code=bindparam("answer_status"), response_body=bindparam("answer_body")))


_CLAIM: dict[str, object] = {}


def _claim_statement(dialect: str):
    """INSERT ... ON CONFLICT (user_id, key) DO NOTHING RETURNING id, built once per database kind. Not a dialect
    fork: both databases run this same statement; only SQLAlchemy's ON CONFLICT construct is per dialect."""
    if dialect not in _CLAIM:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the two supported databases
            raise NotImplementedError(dialect)
        _CLAIM[dialect] = (insert(_request_t).on_conflict_do_nothing(index_elements=["user_id", "key"])
                           .returning(_request_t.c.id))
    return _CLAIM[dialect]


def _claim(session: Session, values: dict) -> int | None:
    """Insert the key row; None if the key is already there (committed by an earlier request, or by a concurrent one
    this insert waited for: ON CONFLICT DO NOTHING waits for the other transaction and then skips)."""
    connection = session.connection()
    return connection.execute(_claim_statement(connection.dialect.name), values).scalar_one_or_none()


def execute(session: Session, *, user_id: int, key: str | None, method_path: str, payload,
            work: Callable[[], tuple[int, dict]]) -> Answer:
    """Run `work()` (returning status and JSON body) once per (user, key), as one transaction with the key row."""
    if not key:
        status, body = run_in_transaction(session, work)
        return Answer(status, body)
    key = key.strip()
    if len(key) > MAX_KEY:
        raise SubsidyError(f"Idempotency-Key 不能超过{MAX_KEY}个字符", field="Idempotency-Key")
    request_hash = body_hash(payload)

    def tx() -> Answer:
        request_id = _claim(session, {"user_id": user_id, "key": key, "method_path": method_path,
                                      "request_hash": request_hash, "status_code": 0, "response_body": "",
                                      "created_at": clock.now()})
        if request_id is None:
            raise _Duplicate()
        status, body = work()
        session.connection().execute(_SAVE_ANSWER, {
            "request_id": request_id, "answer_status": status,
            "answer_body": json.dumps(body, ensure_ascii=False, default=str)})
        return Answer(status, body)

    for _ in range(3):
        try:
            return run_in_transaction(session, tx)
        except _Duplicate:
            session.rollback()
            existing = _stored(session, user_id, key)
            session.rollback()
            if existing is not None and existing.status_code:
                return _replay(existing, request_hash, method_path)
    raise Conflict("相同 Idempotency-Key 的请求正在处理，请稍后重试", field="Idempotency-Key")
