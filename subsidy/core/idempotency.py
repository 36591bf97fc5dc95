"""Retries with an idempotency key (CONTRACT.md, "Retries"): the same key from the same user with the same request
and body gets the first answer again without anything done twice; with another request or body, a refusal.

Race-safe by the unique constraint (user_id, key) of `idempotent_request`: the key row is inserted in the SAME
transaction as the work, before it. A concurrent duplicate blocks on the unique index (PostgreSQL) or on the write lock
(SQLite, BEGIN IMMEDIATE) until the first commits, then skips its insert (ON CONFLICT DO NOTHING) and replays the
stored answer. If the first attempt fails (refused or crashed) its transaction rolls back with the key, so a retry runs
again: refusals are not remembered, only answers that changed something.

What a request and an answer are is the caller's business (the web layer passes its route and stores its status code
and JSON body): here they are an opaque name, an opaque whole number and a JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.core.settings import get_settings
from subsidy.core.errors import Conflict, Refused
from subsidy.models import IdempotentRequest

MAX_KEY = 128


@dataclass
class Answer:
    outcome: int  # what the caller makes of it (the web layer: a status code); never 0, which marks work under way
    body: str  # the JSON text, encoded once: the same text is stored for a replay and sent
    replayed: bool = False


def as_json(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def body_hash(payload) -> str:
    """The request's fingerprint, keyed with SECRET_KEY: a sale's body carries the buyer's whole ID number, and a
    plain hash of it could be reversed by trying the few million ID numbers of a district."""
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hmac.new(get_settings().secret_key.encode(), body, hashlib.sha256).hexdigest()


def _stored(session: Session, user_id: int, key: str) -> IdempotentRequest | None:
    return session.execute(
        select(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
        .execution_options(unscoped=True)
    ).scalar_one_or_none()


def _replay(row: IdempotentRequest, request_hash: str, request: str) -> Answer:
    if row.request_hash != request_hash or row.method_path != request:
        raise Refused("该 Idempotency-Key 已用于另一个请求，请换一个新的键", field="Idempotency-Key")
    return Answer(row.status_code, row.response_body, replayed=True)


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


def once(session: Session, *, user_id: int, key: str | None, request: str, payload,
         work: Callable[[], tuple[int, dict]]) -> Answer:
    """Run `work()` (returning an outcome and a JSON body) once per (user, key), in the caller's transaction with the
    key row (the caller commits both, or neither). Without a key, just `work()`."""
    if not key:
        outcome, body = work()
        return Answer(outcome, as_json(body))
    key = key.strip()
    if len(key) > MAX_KEY:
        raise Refused(f"Idempotency-Key 不能超过{MAX_KEY}个字符", field="Idempotency-Key")
    request_hash = body_hash(payload)
    request_id = _claim(session, {"user_id": user_id, "key": key, "method_path": request,
                                  "request_hash": request_hash, "status_code": 0, "response_body": "",
                                  "created_at": clock.now()})
    if request_id is None:
        # The key was there, or a concurrent request with it committed while the insert waited: either way its row
        # is visible now (READ COMMITTED reads what committed before the statement; SQLite: this transaction holds
        # the write lock, taken after the other's commit).
        existing = _stored(session, user_id, key)
        if existing is None or not existing.status_code:
            raise Conflict("相同 Idempotency-Key 的请求正在处理，请稍后重试", field="Idempotency-Key")
        return _replay(existing, request_hash, request)
    outcome, body = work()
    text = as_json(body)
    session.connection().execute(_SAVE_ANSWER, {"request_id": request_id, "answer_status": outcome,
                                                "answer_body": text})
    return Answer(outcome, text)
