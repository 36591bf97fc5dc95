"""`subsidy backup` and `subsidy restore`: a backup taken while clerks keep selling holds every sale acknowledged
before it began and a consistent whole; a restore refuses a database that holds data unless forced, and reports a
broken audit chain or an old schema with a failing exit status. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from subsidy import cli
from subsidy.core import backup, db
from subsidy.core.errors import SubsidyError
from subsidy.core.settings import get_settings
from subsidy.models import AuditEntry, Batch
from subsidy.sales import issuing
from tests.conftest import _pg_admin_engine, _pg_url
from tests.factories import sales as f
from tests.invariants import sales_problems, slip_numbers

CLERKS = ("coal-a", "coal-b")
THREADS = 4
LOAD_BEFORE_BACKUP = 1.0  # seconds of sales before the backup starts
LOAD_AFTER_BACKUP = 0.5  # and after it ended (pg_dump takes a second or two)
LOAD_WAIT_LIMIT = 30.0  # a loaded machine may need longer for the first sales on either side; never longer than this


@pytest.fixture
def fresh_url(backend, tmp_path) -> Iterator[str]:
    """An empty database (no tables at all) to restore into."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        db.dispose_engines()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _use(monkeypatch, url: str) -> None:
    """Point the command line at another DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.dispose_engines()


def _sell_until(engine, stop: threading.Event, registration_ids: list[tuple[int, str]], seed: int,
                acknowledged: list[tuple[str, float]]) -> None:
    """One clerk's counter: sales through the service layer until `stop` is set, each acknowledged sale recorded with
    the moment its commit returned."""
    rng = random.Random(seed)
    session = db.new_session(engine, write=True)
    try:
        clerk = f.user(session, CLERKS[seed % len(CLERKS)])
        session.commit()
        while not stop.is_set():
            registration_id, id_number = rng.choice(registration_ids)
            try:
                issued = db.run_in_transaction(session, lambda: issuing.issue(
                    session, clerk=clerk, registration_id=registration_id, id_number=id_number,
                    lines=[issuing.LineIn("briquette", 100)]))
            except SubsidyError:  # the household bought its fill meanwhile
                continue
            acknowledged.append((issued.number, time.monotonic()))
    finally:
        session.close()


def _wait_for_a_sale_after(acknowledged: list[tuple[str, float]], moment: float) -> None:
    """Until some sale was acknowledged after `moment` (the clerks keep selling meanwhile), within the limit."""
    deadline = time.monotonic() + LOAD_WAIT_LIMIT
    while not any(at > moment for _, at in list(acknowledged)) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.xdist_group("serial")  # a load that times itself: off the other heavy loads (docs/tests.md)
def test_a_backup_taken_while_clerks_sell_restores_every_sale_acknowledged_before_it(db_url, engine, session, demo,
                                                                                        fresh_url, tmp_path):
    registration_ids = [(r.id, h.id_number)
                        for h, r in (f.household(session, "dongguan", coal_kg=3000) for _ in range(40))]
    session.execute(sa.update(Batch).values(quantity_kg=100_000_000))
    session.commit()
    acknowledged: list[tuple[str, float]] = []
    stop = threading.Event()
    clerks = [threading.Thread(target=_sell_until, args=(engine, stop, registration_ids, i, acknowledged))
              for i in range(THREADS)]
    for clerk in clerks:
        clerk.start()
    try:
        time.sleep(LOAD_BEFORE_BACKUP)
        _wait_for_a_sale_after(acknowledged, 0.0)
        backup_started = time.monotonic()
        backup.backup(db_url, tmp_path / "under-load.backup")
        backup_ended = time.monotonic()
        time.sleep(LOAD_AFTER_BACKUP)
        _wait_for_a_sale_after(acknowledged, backup_ended)
    finally:
        stop.set()
        for clerk in clerks:
            clerk.join()

    before = {number for number, at in acknowledged if at < backup_started}
    after = {number for number, at in acknowledged if at > backup_ended}
    assert before and after, "the clerks were selling before and after the backup"
    report = backup.restore(fresh_url, tmp_path / "under-load.backup")
    assert report.ok, report
    restored_engine = db.make_engine(fresh_url)
    try:
        restored = slip_numbers(restored_engine)
        assert before <= restored, f"acknowledged before the backup but missing: {sorted(before - restored)[:5]}"
        assert restored <= {number for number, _ in acknowledged}, "the backup holds slips nobody issued"
        assert not after & restored, "slips acknowledged after the backup ended are not in it"
        assert sales_problems(restored_engine) == {}
    finally:
        restored_engine.dispose()


def test_a_restore_refuses_a_database_that_holds_data_unless_forced(db_url, session, demo, monkeypatch, tmp_path,
                                                                     capsys):
    f.household(session, "dongguan")
    session.commit()
    file = tmp_path / "district.backup"
    assert cli.main(["backup", str(file)]) == 0
    capsys.readouterr()

    assert cli.main(["restore", str(file)]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["restore", "--force", str(file)]) == 0
    out = capsys.readouterr().out
    assert "audit log intact" in out and "database schema is current" in out


def test_a_restore_into_an_empty_database_needs_no_force_and_checks_what_it_restored(db_url, demo, fresh_url,
                                                                                      monkeypatch, tmp_path, capsys):
    file = tmp_path / "district.backup"
    assert cli.main(["backup", str(file)]) == 0
    _use(monkeypatch, fresh_url)
    assert not backup.has_data(fresh_url)
    assert cli.main(["restore", str(file)]) == 0
    assert "audit log intact" in capsys.readouterr().out
    assert backup.has_data(fresh_url)


def test_a_restored_audit_log_that_was_tampered_with_fails_the_restore(engine, demo, fresh_url, monkeypatch,
                                                                       tmp_path, capsys):
    with db.transaction(engine) as s:
        if engine.dialect.name == "postgresql":  # past the append-only triggers, as a database administrator could
            s.execute(sa.text("SET LOCAL session_replication_role = replica"))
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == 2).values(username="someone-else"))
    file = tmp_path / "tampered.backup"
    assert cli.main(["backup", str(file)]) == 0
    _use(monkeypatch, fresh_url)
    assert cli.main(["restore", str(file)]) == 1
    assert "audit log broken at entry 2" in capsys.readouterr().out


def test_a_restored_schema_behind_the_code_fails_the_restore(engine, demo, fresh_url, monkeypatch, tmp_path, capsys):
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    file = tmp_path / "old.backup"
    assert cli.main(["backup", str(file)]) == 0
    _use(monkeypatch, fresh_url)
    assert cli.main(["restore", str(file)]) == 1
    assert "is at migration 0001" in capsys.readouterr().out


def test_a_backup_of_the_other_kind_of_database_is_refused_before_anything_is_touched(db_url, backend, demo,
                                                                                       tmp_path):
    wrong = tmp_path / "wrong.backup"
    wrong.write_bytes(backup.PG_ARCHIVE_MAGIC if backend == "sqlite" else backup.SQLITE_MAGIC)
    with pytest.raises(backup.BackupError, match="names a"):
        backup.restore(db_url, wrong, force=True)
    assert backup.has_data(db_url)


def test_a_failed_backup_leaves_no_file_under_the_backup_name(db_url, monkeypatch, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "kept.backup"
    target.write_bytes(b"yesterday's backup")

    def fail(_source, partial):
        partial.write_bytes(b"half a backup")
        raise backup.BackupError("disk full")

    monkeypatch.setattr(backup, "_sqlite_backup", fail)
    monkeypatch.setattr(backup, "_pg_backup", fail)
    with pytest.raises(backup.BackupError):
        backup.backup(db_url, target)
    assert target.read_bytes() == b"yesterday's backup"
    assert [p.name for p in folder.iterdir()] == ["kept.backup"]


def test_the_postgresql_password_goes_to_the_tools_in_the_environment_never_on_the_command_line(
        db_url, backend, monkeypatch, tmp_path):
    if backend == "sqlite":
        pytest.skip("SQLite has no password and no external tools")
    url = sa.engine.make_url(db_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    calls = []
    run = backup.subprocess.run

    def recording(command, **kwargs):
        calls.append((command, kwargs.get("env") or {}))
        return run(command, **kwargs)

    monkeypatch.setattr(backup.subprocess, "run", recording)
    backup.backup(url, tmp_path / "pw.backup")  # the test server trusts local connections: the password is unused
    dumps = [(command, env) for command, env in calls if "--format=custom" in command]
    assert len(dumps) == 1
    command, env = dumps[0]
    assert not any("s3cret-pw" in part for part in command)
    assert env["PGPASSWORD"] == "s3cret-pw" and env["PGDATABASE"] == sa.engine.make_url(db_url).database


def test_the_major_version_is_read_from_the_tools_answer():
    assert backup.major_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert backup.major_version("pg_restore (PostgreSQL) 9.6.24") == 9


def test_a_pg_dump_older_than_the_server_is_refused_naming_the_client_to_install():
    backup.check_dump_version(16, 16)
    backup.check_dump_version(17, 16)
    with pytest.raises(backup.BackupError, match="postgresql-client-16"):
        backup.check_dump_version(15, 16)


def test_a_backup_with_an_older_pg_dump_on_path_says_which_client_to_install(db_url, backend, monkeypatch, tmp_path):
    if backend == "sqlite":
        pytest.skip("SQLite needs no pg_dump")
    tools = tmp_path / "old-client"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(backup.BackupError, match=r"version 9, the server runs PostgreSQL \d+.*postgresql-client-"):
        backup.backup(db_url, tmp_path / "never.backup")
    assert not (tmp_path / "never.backup").exists()
