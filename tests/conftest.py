"""Fixtures shared by all test levels.

Every database test runs twice: on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (CI sets it). Each test
gets a database of its own, copied from a template that was built once per run by the real Alembic migrations, so
tests never share rows and never hope that random names keep them apart.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

# Cheap password hashing and a fixed key, before anything reads the settings.
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "test:test-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "test:test-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "test-lookup-key-not-for-production-0123456789")

import pytest
import sqlalchemy as sa

from subsidy.core import clock, db
from subsidy.core.settings import get_settings

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.pg_only(reason="what SQLite lacks")`: the test runs with the postgresql backend only and is
    skipped on SQLite with that reason (or a general one), at collection, before any of its fixtures build a database
    for nothing."""
    for item in items:
        marker = item.get_closest_marker("pg_only")
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "") \
            or "only meaningful on PostgreSQL (run there when TEST_DATABASE_URL is set)"
        if "db_url" not in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(f"{item.nodeid}: pg_only on a test that uses no database")
        backend = getattr(item, "callspec", None) and item.callspec.params.get("db_url")
        if backend != "postgresql":
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


def _pg_admin_engine():
    return sa.create_engine(db.normalise_url(PG_URL), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(name: str) -> str:
    return db.normalise_url(PG_URL).rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Iterator[dict[str, str]]:
    """One migrated template database per backend for the whole run."""
    made: dict[str, str] = {}
    path = tmp_path_factory.mktemp("template") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    db.dispose_engines()
    made["sqlite"] = str(path)
    pg_name = None
    if PG_URL:
        pg_name = f"tpl_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin_engine()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{pg_name}"')
        admin.dispose()
        db.upgrade(_pg_url(pg_name))
        made["postgresql"] = pg_name
    yield made
    if pg_name:
        admin = _pg_admin_engine()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, templates, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh migrated database for this test; the app and services use it as DATABASE_URL."""
    backend = request.param
    if backend == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(templates["sqlite"], target)
        url = f"sqlite:///{target}"
    else:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin_engine()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"')
        admin.dispose()
        url = _pg_url(name)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.dispose_engines()
    yield url
    db.dispose_engines()
    get_settings.cache_clear()
    if backend == "postgresql":
        admin = _pg_admin_engine()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def backend(db_url) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def engine(db_url):
    return db.get_engine(db_url)


@pytest.fixture
def session(engine) -> Iterator[sa.orm.Session]:
    """An unscoped session, as the command line has. Tests commit when the use case would."""
    s = db.new_session(engine, write=True)
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the clock: `frozen(datetime(...))`, `clock.advance(...)` to move on. Unfrozen after the test."""
    def freeze(moment):
        clock.freeze(moment)
    yield freeze
    clock.freeze(None)


@pytest.fixture
def demo(engine):
    """The demo district with a few households per village (personas: the demo users)."""
    from subsidy import demo as demo_data

    with db.transaction(engine) as s:
        demo_data.load(s, households_per_village=6)
    return demo_data


@pytest.fixture
def app(db_url):
    from web.app import create_app

    return create_app()


@pytest.fixture
def client_as(app, demo):
    """`client_as("caiyuan")`: a browser-like client logged in as that demo user (password user-demo)."""
    from tests.clients import PageClient

    clients = []

    def make(username: str, password: str | None = None) -> PageClient:
        # Not entered as a context: several clients on one app would each run (and wait on) its lifespan.
        client = PageClient(app)
        clients.append(client)
        client.login(username, password or f"{username}-demo")
        return client

    yield make
    clients.clear()


@pytest.fixture
def api_as(app, demo):
    """`api_as("coal-a")`: an API client with that demo user's bearer token."""
    from tests.clients import ApiClient

    clients = []

    def make(username: str, password: str | None = None) -> ApiClient:
        client = ApiClient(app)
        clients.append(client)
        client.authenticate(username, password or f"{username}-demo")
        return client

    yield make
    clients.clear()
