"""The benchmarks' databases: each benchmark runs on a temporary SQLite file and, when BENCH_DATABASE_URL or
TEST_DATABASE_URL names a PostgreSQL server, on a scratch database created there and dropped afterwards.
BENCH_BACKENDS=sqlite or =postgresql runs one; BENCH_KEEP=1 keeps the SQLite file for a look afterwards."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from subsidy.core import db


def on_each_backend(run: Callable[[str, str], None], prefix: str) -> None:
    """`run(url, label)` with label "SQLite", then "PostgreSQL"."""
    backends = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
    if "sqlite" in backends:
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        try:
            run(f"sqlite:///{folder / 'bench.db'}", "SQLite")
        finally:
            db.dispose_engines()
            if os.environ.get("BENCH_KEEP"):
                print(f"  (kept {folder / 'bench.db'})")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    server = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")) \
        if "postgresql" in backends else None
    if not server:
        print("\n(PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL)")
        return
    admin_url = db.normalise_url(server)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        run(admin_url.rsplit("/", 1)[0] + "/" + name, "PostgreSQL")
    finally:
        db.dispose_engines()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
