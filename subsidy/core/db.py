"""Engines, sessions and transactions, for SQLite and PostgreSQL alike.

SQLite: WAL, foreign keys and a busy timeout on every connection, and write transactions opened with
`BEGIN IMMEDIATE`, so that concurrent writers queue on the database lock instead of failing with "database is
locked" when a deferred transaction tries to upgrade its read lock (SQLAlchemy's pysqlite docs, "Serializable
isolation / Savepoints / Transactional DDL"). Read-only sessions keep a deferred BEGIN so readers never queue.

PostgreSQL (psycopg 3): READ COMMITTED with explicit row locks and conditional updates in the services; a
transaction that fails with a serialization failure (40001) or a deadlock (40P01) is run again by `run_in_transaction`,
and a unique violation (23505) becomes a `Conflict`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from subsidy.core.errors import Conflict
from subsidy.core.settings import PROJECT_ROOT, get_settings

T = TypeVar("T")
_engines: dict[str, Engine] = {}


# A dialect fork gives PostgreSQL a faster statement and every other database a portable one; each is marked with
# `# DIALECT FORK (bench: <its benchmark>): <why>`, and tests/services/core/test_dialect_forks.py runs both branches
# of every fork on PostgreSQL and compares them. An engine made `portable` takes the portable branch everywhere.
_PORTABLE = "subsidy_portable"


def portable(engine: Engine) -> Engine:
    """This engine (the same pool and connections) with every dialect fork taking its portable branch, as on a
    database other than PostgreSQL. For the tests that compare the branches: production never makes one."""
    return _with_options(engine, _PORTABLE, True)


def pg_branch(bind) -> bool:
    """Whether a dialect fork takes its PostgreSQL branch on `bind` (an engine or a connection). Read on the sale's
    path: a name comparison and a lookup in the execution options SQLAlchemy already holds, no environment."""
    return bind.dialect.name == "postgresql" and _PORTABLE not in bind.get_execution_options()


def normalise_url(url: str) -> str:
    """Relative SQLite paths are relative to the project root, whatever the working directory."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        path = PROJECT_ROOT / url[len("sqlite:///"):]
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for any other database): what a backup copies."""
    url = normalise_url(url)
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def make_engine(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    # Statement parameters are citizens' ID numbers, phones and addresses: never in an error's text (which ends up
    # in the log) nor in SQLAlchemy's own statement logging. Not overridable on purpose.
    kwargs["hide_parameters"] = True
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        # No ping before every checkout (a round trip per request on the hottest path): a connection idle for
        # IDLE_PING_SECONDS is pinged at checkout, connections are recycled after half an hour, and when a statement
        # finds its connection gone (the server restarted), SQLAlchemy discards the whole pool and
        # `run_in_transaction` runs the work again on a fresh connection.
        kwargs.setdefault("pool_pre_ping", False)
        kwargs.setdefault("pool_recycle", 1800)
        engine = create_engine(url, **kwargs)
        _ping_after_idle(engine)
    return engine


IDLE_PING_SECONDS = 30


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for a while (a firewall or an idle-session timeout
    may have closed it meanwhile); a dead one is replaced before any handler sees it. Busy connections skip the round
    trip, which on the sale's path was one of the request's most expensive."""
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:  # the pool discards this connection and hands out another
            raise DisconnectionError(str(error)) from error


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from the sqlite3 module so that our BEGIN is the one that runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # PostgreSQL's md5(text), which SQLite lacks: the anomaly flags' evidence fingerprint (oversight/anomalies.py).
        dbapi_connection.create_function("md5", 1, _md5, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _with_options(engine: Engine, name: str, value) -> Engine:
    """`engine.execution_options(name=value)`, made once per engine and kept on it (making it costs more than the
    statement a request runs)."""
    variants = engine.__dict__.setdefault("_subsidy_variants", {})
    if (name, value) not in variants:
        variants[(name, value)] = engine.execution_options(**{name: value})
    return variants[(name, value)]


def new_session(engine: Engine | None = None, *, write: bool = False, read_only: bool = False,
                single_read: bool = False, scope=None) -> Session:
    """A session. `write=True` opens SQLite transactions with BEGIN IMMEDIATE. On PostgreSQL, `read_only=True`
    opens transactions READ ONLY, and `single_read=True` opens none at all (autocommit): for a caller that runs one
    SELECT, such as resolving who is calling, it saves the BEGIN and the COMMIT round trips (READ COMMITTED gives
    each statement its own snapshot anyway). End both with `end_read` (web/deps.py does for every request). `scope`
    limits every ORM query to what that user may see (subsidy/core/scope.py)."""
    if write + read_only + single_read > 1:
        raise ValueError("a session is for writing, for reading, or for a single read")
    engine = engine or get_engine()
    if write and engine.dialect.name == "sqlite":
        bind = _with_options(engine, "sqlite_begin", "IMMEDIATE")
    # DIALECT FORK (bench: scripts/bench_slips.py): the caller resolved in one round trip, not BEGIN, SELECT, COMMIT
    elif single_read and pg_branch(engine):
        bind = _with_options(engine, "isolation_level", "AUTOCOMMIT")
    elif read_only and engine.dialect.name == "postgresql":
        bind = _with_options(engine, "postgresql_readonly", True)
    else:
        bind = engine
    session = Session(bind=bind, expire_on_commit=False)
    if scope is not None:
        session.info["scope"] = scope
    return session


_WROTE = text("SELECT txid_current_if_assigned() IS NOT NULL")


def end_read(session: Session) -> None:
    """End a transaction that only read with a COMMIT instead of a ROLLBACK, and one that wrote with a ROLLBACK.

    psycopg forgets every statement it prepared on a connection at each ROLLBACK (and sends DEALLOCATE ALL), so
    the pooled connection that served a page or resolved a caller would then parse and plan the sale's statements
    afresh: PostgreSQL spent 2.8 ms of CPU per sale instead of 1.5 (bench_slips). Ending a read never writes: the
    ORM's pending changes, an audit entry waiting for the commit (subsidy/core/audit.py), or on a session that is not
    READ ONLY any write at all (PostgreSQL then has given the transaction an id), and it rolls back as before.
    SQLite keeps its statements across a rollback, so there (and on a `portable` engine) it always rolls back."""
    if not session.in_transaction():
        return
    bind = session.get_bind()
    # DIALECT FORK (bench: scripts/bench_slips.py): a COMMIT keeps psycopg's prepared statements (see above)
    if (not pg_branch(bind) or session.new or session.dirty or session.deleted
            or session.info.get("audit_pending")):
        session.rollback()
        return
    options = bind.get_execution_options()
    read_only = options.get("postgresql_readonly") or options.get("isolation_level") == "AUTOCOMMIT"
    if not read_only and session.connection().execute(_WROTE).scalar():
        session.rollback()
        return
    session.commit()


@contextmanager
def transaction(engine: Engine | None = None, *, scope=None) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on error. For the CLI, the demo loader and tests."""
    session = new_session(engine, write=True, scope=scope)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


RETRYABLE_PG_CODES = {"40001", "40P01"}


def pg_code(error: DBAPIError) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)


def is_unique_violation(error: IntegrityError) -> bool:
    code = pg_code(error)
    if code is not None:
        return code == "23505"
    return "UNIQUE constraint failed" in str(error.orig)


def run_in_transaction(session: Session, work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `work()` and commit, as one transaction. Serialization failures, deadlocks and a connection lost before
    the commit are retried from the start (the work must only touch the database, never the outside world); a unique
    violation becomes a Conflict."""
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            session.commit()
            return result
        except IntegrityError as error:
            session.rollback()
            if is_unique_violation(error):
                raise Conflict("该记录已存在或已被他人同时处理，请刷新后重试") from error
            raise
        except DBAPIError as error:
            session.rollback()
            if error.connection_invalidated and attempt < attempts and not _lost_at_commit(error):
                continue  # the server closed the connection (restart): nothing was written, run again
            if not isinstance(error, OperationalError):
                raise
            if pg_code(error) in RETRYABLE_PG_CODES and attempt < attempts:
                time.sleep(0.01 * attempt)
                continue
            if "database is locked" in str(error) and attempt < attempts:
                time.sleep(0.05 * attempt)
                continue
            raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def is_retryable(error: DBAPIError) -> bool:
    """Whether a transaction that failed with `error` wrote nothing and may simply run again from the start: the
    failures `run_in_transaction` retries, and the web layer's edge too (web/deps.py: RetryWrites)."""
    if error.connection_invalidated:
        return not _lost_at_commit(error)
    if not isinstance(error, OperationalError):
        return False
    return pg_code(error) in RETRYABLE_PG_CODES or "database is locked" in str(error)


def _lost_at_commit(error: DBAPIError) -> bool:
    """A connection lost during COMMIT (SQLAlchemy reports no statement then) leaves the outcome unknown: such work
    is never run again blindly. Lost during a statement, the transaction died with the connection: safe to rerun."""
    statement = (error.statement or "").strip().upper()
    return not statement or statement.startswith("COMMIT")


def alembic_config(url: str | None = None):
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = normalise_url(url or get_settings().database_url)
    return config


def upgrade(url: str | None = None) -> tuple[str | None, str]:
    """Apply every migration not yet applied; (the database's revision before, the head after): before is None for
    a new database (the schema was created), the head itself when there was nothing to do."""
    from alembic import command

    config = alembic_config(url)
    engine = make_engine(config.attributes["database_url"])
    try:
        before, _ = schema_status(engine)
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    engine = make_engine(config.attributes["database_url"])
    try:
        after, _ = schema_status(engine)
    finally:
        engine.dispose()
    return before, after


def schema_status(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the code's head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, script.get_current_head()


class SchemaOutdated(RuntimeError):
    pass


def ensure_schema_current(engine: Engine) -> None:
    current, head = schema_status(engine)
    if current != head:
        raise SchemaOutdated(
            f"The database at {engine.url.render_as_string(hide_password=True)} is at migration {current or 'none'}, "
            f"the code needs {head}. Run `subsidy db upgrade` first."
        )
