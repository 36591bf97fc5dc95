"""Ending a read (`db.end_read`) commits on PostgreSQL, to keep the connection's prepared statements, but it must
never keep a write: whatever a session changed is rolled back, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from subsidy.core import audit, db
from subsidy.models import AuditEntry, Town


def _town_name(engine, code: str) -> str:
    with db.new_session(engine) as s:
        return s.execute(select(Town.name).where(Town.code == code)).scalar_one()


def _audit_entries(engine) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def test_ending_a_read_does_not_keep_a_core_write(engine, demo):
    before = _town_name(engine, "caiyuan")
    s = db.new_session(engine, write=True)
    try:
        s.execute(update(Town).where(Town.code == "caiyuan").values(name="改过的名字"))
        db.end_read(s)
        assert not s.in_transaction()
    finally:
        s.close()
    assert _town_name(engine, "caiyuan") == before


def test_ending_a_read_does_not_keep_a_flushed_orm_change(engine, demo):
    before = _town_name(engine, "caiyuan")
    s = db.new_session(engine, write=True)
    try:
        town = s.execute(select(Town).where(Town.code == "caiyuan")).scalar_one()
        town.name = "改过的名字"
        s.flush()  # nothing pending in the ORM any more, yet the row is changed in the transaction
        assert not s.dirty
        db.end_read(s)
    finally:
        s.close()
    assert _town_name(engine, "caiyuan") == before


def test_ending_a_read_does_not_keep_pending_orm_changes_or_audit_entries(engine, demo):
    before, entries = _town_name(engine, "caiyuan"), _audit_entries(engine)
    s = db.new_session(engine, read_only=True)
    try:
        town = s.execute(select(Town).where(Town.code == "caiyuan")).scalar_one()
        town.name = "改过的名字"
        audit.record(s, None, "town.rename", town)
        db.end_read(s)
    finally:
        s.close()
    assert _town_name(engine, "caiyuan") == before
    assert _audit_entries(engine) == entries


@pytest.mark.pg_only(reason="SQLite has no READ ONLY transactions; its reads end with a rollback")
def test_a_read_only_session_refuses_writes_on_postgresql(engine, demo):
    s = db.new_session(engine, read_only=True)
    try:
        with pytest.raises(Exception, match="read-only transaction"):
            s.execute(update(Town).where(Town.code == "caiyuan").values(name="改过的名字"))
    finally:
        s.close()


def test_a_session_is_for_writing_or_for_reading(engine):
    with pytest.raises(ValueError):
        db.new_session(engine, write=True, read_only=True)
