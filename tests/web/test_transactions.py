"""The request's one transaction (web/deps.py): a write commits when its handler returns; a write the domain refuses
keeps nothing, whether the refusal reaches the error mapping or the handler renders its form again; and a write that
failed in a way that wrote nothing (a lock timeout, a deadlock) runs again, once more, from the start."""

from __future__ import annotations

import sqlite3

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from subsidy.core import db
from subsidy.core.errors import Refused
from subsidy.models import Household, Town
from subsidy.policy import regions
from subsidy.registry import households
from tests.web.registry.test_households_api import new_household, village_id


def _towns_named(engine, code: str) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(Town).where(Town.code == code)).scalar_one()


def _households_headed_by(engine, name: str) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(Household).where(Household.head_name == name)).scalar_one()


def _refuses_after_writing(monkeypatch, module, name: str):
    """`module.name` does its work (writes and flushes), then refuses: a refusal that comes after a write."""
    real = getattr(module, name)

    def work_then_refuse(session, *args, **kwargs):
        real(session, *args, **kwargs)
        session.flush()
        raise Refused("写入之后才发现不符合规定", field="name")

    monkeypatch.setattr(module, name, work_then_refuse)


def test_a_write_commits_when_its_handler_returns(client_as, engine):
    assert client_as("admin").submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"}).status_code == 200
    assert _towns_named(engine, "xintown") == 1


def test_a_refused_write_whose_form_is_rendered_again_keeps_nothing(client_as, engine, monkeypatch):
    _refuses_after_writing(monkeypatch, regions, "create_town")
    admin = client_as("admin")
    page = admin.submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"})
    assert page.status_code == 422 and "写入之后才发现不符合规定" in page.text
    assert _towns_named(engine, "xintown") == 0
    monkeypatch.undo()
    assert admin.submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"}).status_code == 200
    assert _towns_named(engine, "xintown") == 1  # the session the refusal left behind was sound


def test_a_refused_write_that_reaches_the_error_mapping_keeps_nothing(api_as, engine, monkeypatch):
    _refuses_after_writing(monkeypatch, households, "register_household")
    client = api_as("dongguan")
    answer = new_household(client, village_id(client, "dongguan"), head_name="钱未存")
    assert answer.status_code == 422 and answer.json()["errors"] == {"name": "写入之后才发现不符合规定"}
    assert _households_headed_by(engine, "钱未存") == 0


def test_a_write_that_found_the_database_locked_runs_again_and_commits_once(client_as, engine, monkeypatch):
    real, calls = regions.create_town, []

    def locked_the_first_time(session, *args, **kwargs):
        calls.append(1)
        town = real(session, *args, **kwargs)
        if len(calls) == 1:
            session.flush()  # something was written, and must not survive the failed attempt
            raise OperationalError("INSERT INTO town", {}, sqlite3.OperationalError("database is locked"))
        return town

    monkeypatch.setattr(regions, "create_town", locked_the_first_time)
    page = client_as("admin").submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"})
    assert page.status_code == 200 and "新城街道" in page.text  # the redirect was followed: the second answer
    assert len(calls) == 2
    assert _towns_named(engine, "xintown") == 1


def test_a_write_that_keeps_finding_the_database_locked_gives_up_with_503_and_nothing_written(
        client_as, engine, monkeypatch):
    real, calls = regions.create_town, []

    def always_locked(session, *args, **kwargs):
        calls.append(1)
        real(session, *args, **kwargs)
        session.flush()
        raise OperationalError("INSERT INTO town", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(regions, "create_town", always_locked)
    page = client_as("admin").submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"})
    assert page.status_code == 503 and "系统繁忙" in page.text
    assert len(calls) == 5
    assert _towns_named(engine, "xintown") == 0


def test_a_failure_that_is_not_a_lock_is_not_run_again(client_as, monkeypatch):
    calls = []

    def broken(session, *args, **kwargs):
        calls.append(1)
        raise OperationalError("INSERT INTO town", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(regions, "create_town", broken)
    assert client_as("admin").submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"}).status_code == 500
    assert len(calls) == 1
