"""Fixtures shared by all test levels.

Every database test runs twice: on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (CI sets it). Each test
gets a database of its own, copied from a template that was built once per run by the real Alembic migrations, so
tests never share rows and never hope that random names keep them apart. A test that uses the demo district gets it
copied from a second template that holds the demo as well (loaded once, by the real `demo.load`), unless it freezes
the clock, when the demo is loaded under that clock instead. Apps are built once per set of settings: building one
registers every route (about half a second) and holds nothing of a test's database.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
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
from tests.databases import template_key

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# The pytest-xdist worker this process is ("gw0", "gw1", ...; "main" when the run is serial): every database and file
# this conftest makes carries it, so two workers never share one (docs/tests.md).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_collection_modifyitems(config, items):
    _refuse_imported_tests(items)
    _skip_pg_only_on_sqlite(items)


def _refuse_imported_tests(items) -> None:
    """A test function imported into another test module is collected there a second time and runs twice. Import the
    module instead (`from tests.services.oversight import test_anomalies as anomaly_tests`)."""
    imported = sorted({f"{item.nodeid.split('::')[0]}: {item.function.__name__} (defined in {item.function.__module__})"
                       for item in items
                       if isinstance(item, pytest.Function) and item.module is not None
                       and item.function.__module__ != item.module.__name__})
    if imported:
        raise pytest.UsageError("test functions collected from a module that merely imported them (import the "
                                "module instead):\n  " + "\n  ".join(imported))


def _skip_pg_only_on_sqlite(items) -> None:
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


DEMO_HOUSEHOLDS_PER_VILLAGE = 6


def _load_demo(url: str) -> None:
    from subsidy import demo as demo_data

    with db.transaction(db.get_engine(url)) as s:
        demo_data.load(s, households_per_village=DEMO_HOUSEHOLDS_PER_VILLAGE)
    db.dispose_engines()


def _create_pg_database(name: str, template: str | None = None) -> None:
    admin = _pg_admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    admin.dispose()


def _drop_pg_database(name: str) -> None:
    admin = _pg_admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


class PgCopies:
    """Databases copied from the PostgreSQL templates, one ahead: a test takes the copy made while the test before it
    ran, and the next copy is made (and the used one dropped) in a background thread meanwhile. CREATE DATABASE ...
    TEMPLATE is most of a PostgreSQL test's own time; this takes it off the test's path."""

    def __init__(self) -> None:
        self._ready: dict[str, queue.Queue[str]] = {}
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self._thread = threading.Thread(target=self._work, name="pg-copies", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                kind, name, template = job
                try:
                    if kind == "create":
                        _create_pg_database(name, template=template)
                        self._ready[template].put(name)
                    else:
                        _drop_pg_database(name)
                except Exception as error:  # noqa: BLE001
                    if kind == "create":  # the next take() makes its copy itself, and fails there saying why
                        self._ready[template].put("")
                    else:  # reported when the run ends
                        self._errors.append(f"DROP DATABASE {name}: {error}")
            finally:
                self._jobs.task_done()

    def _new_name(self) -> str:
        return f"t_{WORKER}_{uuid.uuid4().hex[:12]}"

    def take(self, template: str) -> str:
        """A fresh copy of `template`, for one test; the next one is made in the background."""
        with self._lock:
            first = template not in self._ready
            if first:
                self._ready[template] = queue.Queue()
        if first:
            name = self._new_name()
            _create_pg_database(name, template=template)
        else:
            name = self._ready[template].get()
            if not name:  # the background copy failed: make one here, and say why if that fails too
                name = self._new_name()
                _create_pg_database(name, template=template)
        self._jobs.put(("create", self._new_name(), template))
        return name

    def drop(self, name: str) -> None:
        self._jobs.put(("drop", name, None))

    def close(self) -> None:
        """Wait for the background work, then drop the spare copies (before the templates themselves go)."""
        self._jobs.join()
        for ready in self._ready.values():
            while not ready.empty():
                name = ready.get()
                if name:
                    _drop_pg_database(name)
        self._jobs.put(None)
        self._thread.join(timeout=30)
        if self._errors:
            raise RuntimeError("test databases left behind:\n" + "\n".join(self._errors))


_COPIES: list[PgCopies] = []


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Two migrated template databases per backend for the whole run: empty, and with the demo district
    (keys "sqlite", "sqlite+demo", "postgresql", "postgresql+demo"). Their names carry the xdist worker."""
    made: dict[str, str] = {}
    folder = tmp_path_factory.mktemp(f"template-{WORKER}")
    path = folder / "template.db"
    db.upgrade(f"sqlite:///{path}")
    db.dispose_engines()
    made["sqlite"] = str(path)
    shutil.copy(path, folder / "demo.db")
    _load_demo(f"sqlite:///{folder / 'demo.db'}")
    made["sqlite+demo"] = str(folder / "demo.db")
    pg_names = []
    if PG_URL:
        pg_name = f"tpl_{WORKER}_{uuid.uuid4().hex[:12]}"
        _create_pg_database(pg_name)
        pg_names.append(pg_name)
        db.upgrade(_pg_url(pg_name))
        db.dispose_engines()
        made["postgresql"] = pg_name
        demo_name = f"{pg_name}_demo"
        _create_pg_database(demo_name, template=pg_name)
        pg_names.append(demo_name)
        _load_demo(_pg_url(demo_name))
        made["postgresql+demo"] = demo_name
        _COPIES.append(PgCopies())
    yield made
    while _COPIES:
        _COPIES.pop().close()
    for name in reversed(pg_names):
        _drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def db_url(request, templates, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh migrated database for this test; the app and services use it as DATABASE_URL."""
    backend = request.param
    if backend == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(templates[template_key(request, backend)], target)
        url = f"sqlite:///{target}"
    else:
        name = _COPIES[0].take(templates[template_key(request, backend)])
        url = _pg_url(name)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.dispose_engines()
    yield url
    db.dispose_engines()
    get_settings.cache_clear()
    if backend == "postgresql":
        _COPIES[0].drop(name)


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
        demo_data.load(s, households_per_village=DEMO_HOUSEHOLDS_PER_VILLAGE)  # nothing when its template had it
    return demo_data


_APPS: dict[str, object] = {}


@pytest.fixture
def app(db_url):
    """The app for the settings of this test. Apps read the database from the settings at each request, so one
    app serves every test with the same other settings; a test that changes a setting gets an app of its own."""
    from web.app import create_app

    settings = get_settings()
    # The repr leaves the database and the secrets out (and names the audit and data keys by id only): the secrets
    # are part of the key apart, since create_app reads some (the CSRF secret) and checks the keys against the data.
    keys = tuple((i, k.get(i)) for k in (settings.audit_keys, settings.data_keys) for i in k.ids())
    key = (repr(settings), settings.secret_key, settings.lookup_key, keys)
    if key not in _APPS:
        _APPS[key] = create_app()
    app = _APPS[key]
    app.state.public_cache.entries.clear()  # the public page's cache holds the previous test's database
    return app


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
