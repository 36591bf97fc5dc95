"""Backups of the whole database and their restore, for `subsidy backup FILE` and `subsidy restore FILE`.

A backup is one consistent snapshot taken while the app keeps serving:
- SQLite: the online backup API copies the database in one step, inside one read transaction; in WAL mode the
  writers go on meanwhile and the copy is the database as it stood when that transaction began. The copy is switched
  to a rollback journal (one self-contained file) and checked (`PRAGMA quick_check`) before it gets its name.
- PostgreSQL: `pg_dump --format=custom`, which reads everything in one REPEATABLE READ snapshot.

The file is written beside the target under a temporary name and renamed only when complete, so an interrupted
backup never leaves a truncated file under the name of a good one.

A restore refuses a database that holds data unless told to overwrite it, then checks what it restored: the audit
chain (`audit.verify`) and the schema's migration (`db.ensure_schema_current`).

The PostgreSQL tools get the connection from DATABASE_URL through libpq's environment variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE...): a password on a command line is visible to every user of the machine (`ps`).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from subsidy.core import audit, db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_ARCHIVE_MAGIC = b"PGDMP"
# Rows that a freshly migrated, empty database already has: the migrations' own bookkeeping. Any other row is data
# a restore would destroy.
_BOOKKEEPING = {"alembic_version"}
# libpq's environment variable for each connection parameter a DATABASE_URL may carry in its query string.
_PG_QUERY_ENV = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                 "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
                 "application_name": "PGAPPNAME", "options": "PGOPTIONS",
                 "target_session_attrs": "PGTARGETSESSIONATTRS"}


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message tells the operator why and what to do."""


class DatabaseHasData(BackupError):
    """The restore's target is not empty and overwriting it was not asked for."""


@dataclass
class RestoreReport:
    chain: audit.ChainReport
    schema_problem: str | None  # None when the restored schema is the code's migration head

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.schema_problem is None


def backup(url: str, target: Path) -> int:
    """Write a consistent backup of the database at `url` to `target` (replaced if it exists); returns its size."""
    url = db.normalise_url(url)
    target = Path(target).resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a directory: name the backup file")
    if not target.parent.is_dir():
        raise BackupError(f"no directory {target.parent} for the backup file")
    partial = target.with_name(f".{target.name}.partial")  # same directory, so that the rename is atomic
    partial.unlink(missing_ok=True)
    try:
        if url.startswith("sqlite"):
            _sqlite_backup(_sqlite_file(url), partial)
        else:
            _pg_backup(url, partial)
        _fsync(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def has_data(url: str) -> bool:
    """Whether the database at `url` holds any row beyond what the migrations themselves write."""
    url = db.normalise_url(url)
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if not path.exists() or path.stat().st_size == 0:
            return False
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = [name for name in sa.inspect(connection).get_table_names() if name not in _BOOKKEEPING]
            quote = connection.dialect.identifier_preparer.quote
            return any(connection.execute(sa.text(f"SELECT 1 FROM {quote(name)} LIMIT 1")).first()
                       for name in tables)
    except OperationalError as error:
        raise BackupError(f"cannot open the database {_shown(url)}: {error.orig}. A PostgreSQL database to restore "
                          "into must exist (createdb NAME).") from error
    finally:
        engine.dispose()


def restore(url: str, source: Path, *, force: bool = False) -> RestoreReport:
    """Replace the database at `url` by the backup in `source`, then check the audit chain and the schema.

    Refuses (DatabaseHasData) a database that holds data unless `force`. On PostgreSQL the restore runs as one
    transaction: if any statement fails, the database is left as it was. Stop the app before restoring."""
    url = db.normalise_url(url)
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file {source}")
    _check_kind(source, sqlite=url.startswith("sqlite"))
    if url.startswith("sqlite"):
        _sqlite_check(source)  # a damaged file is refused before anything is overwritten
    else:
        _pg_check_archive(url, source)
    if not force and has_data(url):
        raise DatabaseHasData(f"the database {_shown(url)} already holds data: restoring would replace all of it. "
                              "Give --force to overwrite it.")
    if url.startswith("sqlite"):
        _sqlite_restore(source, _sqlite_file(url))
    else:
        _pg_restore(url, source)
    return check(url)


def check(url: str) -> RestoreReport:
    """The audit chain and the schema of the database at `url`."""
    engine = db.make_engine(url)
    try:
        try:
            db.ensure_schema_current(engine)
            schema_problem = None
        except db.SchemaOutdated as problem:
            schema_problem = str(problem)
        chain = audit.verify_database(engine)
    finally:
        engine.dispose()
    return RestoreReport(chain, schema_problem)


# --- SQLite ---

def _sqlite_file(url: str) -> Path:
    path = db.sqlite_path(url)
    if path is None:
        raise BackupError(f"{url} is not a SQLite database file (an in-memory database has nothing to back up)")
    return path


def _sqlite_backup(path: Path, partial: Path) -> None:
    if not path.is_file():
        raise BackupError(f"no database file {path}")
    source = sqlite3.connect(path, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, so one read transaction and one snapshot. Stepping a few
            # pages at a time would release the snapshot between steps and restart whenever the app writes.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # no -wal file beside the backup: it is the whole database
            result = copy.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            copy.close()
    except sqlite3.Error as error:
        raise BackupError(f"the backup of {path} failed: {error}") from error
    finally:
        source.close()
    if result != "ok":
        raise BackupError(f"the backup of {path} does not pass SQLite's quick_check: {result}")


def _sqlite_check(source: Path) -> None:
    try:
        connection = sqlite3.connect(_read_only_uri(source), uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise BackupError(f"{source} is not a readable SQLite database: {error}") from error
    if result != "ok":
        raise BackupError(f"{source} does not pass SQLite's quick_check: {result}")


def _sqlite_restore(source: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    backup_file = sqlite3.connect(_read_only_uri(source), uri=True)
    try:
        # Through the backup API rather than a file copy: the target's own connection writes the pages, under its
        # lock and through its WAL, so a -wal file left beside the old database can never be replayed onto the new.
        target = sqlite3.connect(path, timeout=30)
        try:
            backup_file.backup(target, pages=-1)
        finally:
            target.close()
    except sqlite3.Error as error:
        raise BackupError(f"restoring {source} into {path} failed: {error}") from error
    finally:
        backup_file.close()


# --- PostgreSQL ---

def pg_environment(url: str) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: this process's, with DATABASE_URL's connection parameters set as
    libpq's variables. Parameters the URL leaves out keep libpq's defaults, as psycopg itself would."""
    parsed = make_url(db.normalise_url(url))
    env = dict(os.environ)
    for name, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port), ("PGUSER", parsed.username),
                        ("PGPASSWORD", parsed.password), ("PGDATABASE", parsed.database)):
        if value is not None:
            env[name] = str(value)
    for key, value in parsed.query.items():
        if key not in _PG_QUERY_ENV:
            raise BackupError(f"DATABASE_URL's parameter ?{key}= has no libpq environment variable to pass it to "
                              "pg_dump / pg_restore")
        env[_PG_QUERY_ENV[key]] = value if isinstance(value, str) else value[-1]
    return env


def major_version(version_output: str) -> int:
    """The major version in `pg_dump --version`'s answer, e.g. 15 for "pg_dump (PostgreSQL) 15.20 (Debian ...)"."""
    found = re.search(r"\)\s*(\d+)", version_output) or re.search(r"(\d+)", version_output)
    if found is None:
        raise BackupError(f"cannot read a version in {version_output!r}")
    return int(found.group(1))


def check_dump_version(pg_dump_major: int, server_major: int) -> None:
    """pg_dump refuses to dump a server newer than itself ("server version mismatch"): say so before it runs."""
    if pg_dump_major < server_major:
        raise BackupError(
            f"pg_dump on PATH is version {pg_dump_major}, the server runs PostgreSQL {server_major}: pg_dump cannot "
            f"dump a newer server. Install the client tools of version {server_major} or later (Debian: "
            f"postgresql-client-{server_major}) and put them first on PATH.")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools of the server's major version "
                          "(Debian: postgresql-client-NN)")
    return found


def _tool_major(tool: str) -> int:
    answer = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return major_version(answer.stdout or answer.stderr)


def _server_major(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SHOW server_version_num").scalar()) // 10000
    except OperationalError as error:
        raise BackupError(f"cannot connect to {_shown(url)}: {error.orig}") from error
    finally:
        engine.dispose()


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        raise BackupError(f"{what} failed (exit status {answer.returncode}):\n{answer.stderr.strip()}")
    return answer.stdout


def _pg_backup(url: str, partial: Path) -> None:
    pg_dump = _tool("pg_dump")
    check_dump_version(_tool_major(pg_dump), _server_major(url))
    # --no-password: never wait for a password at a prompt nobody sees (it comes from PGPASSWORD or ~/.pgpass).
    _run([pg_dump, "--format=custom", "--no-password", f"--file={partial}"], pg_environment(url), "pg_dump")


def _pg_check_archive(url: str, source: Path) -> None:
    """Read the archive's table of contents before touching the database: a damaged file, or one written by a newer
    pg_dump than this pg_restore can read, is refused with pg_restore's own words."""
    pg_restore = _tool("pg_restore")
    try:
        _run([pg_restore, "--list", str(source)], pg_environment(url), "pg_restore --list")
    except BackupError as error:
        raise BackupError(f"{source} cannot be read by {pg_restore} (version {_tool_major(pg_restore)}): "
                          f"{error}") from error


def _pg_restore(url: str, source: Path) -> None:
    pg_restore = _tool("pg_restore")
    env = pg_environment(url)
    if not env.get("PGDATABASE"):
        raise BackupError(f"{_shown(url)} names no database to restore into")
    # --dbname is required (without it pg_restore prints SQL instead of restoring); it gets the name alone, the rest
    # of the connection comes from the environment. --single-transaction: all or nothing.
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
          "--no-password", f"--dbname={env['PGDATABASE']}", str(source)], env, "pg_restore")


# --- both ---

def _check_kind(source: Path, *, sqlite: bool) -> None:
    with open(source, "rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if sqlite and not head.startswith(SQLITE_MAGIC):
        kind = "a PostgreSQL archive (pg_dump)" if head.startswith(PG_ARCHIVE_MAGIC) else "not a SQLite database"
        raise BackupError(f"{source} is {kind}, and DATABASE_URL names a SQLite database")
    if not sqlite and not head.startswith(PG_ARCHIVE_MAGIC):
        kind = "a SQLite database" if head.startswith(SQLITE_MAGIC) else "not a pg_dump custom-format archive"
        raise BackupError(f"{source} is {kind}, and DATABASE_URL names a PostgreSQL database")


def _read_only_uri(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"  # as_uri escapes a "?" or "#" in the path


def _fsync(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
