"""The audit log: keyed entries written without a shared lock, sealed into a signed chain; a change made with access
to the database alone is detected and named (subsidy/core/audit.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from subsidy.core import audit, db
from subsidy.core.settings import get_settings
from subsidy.models import AuditEntry, AuditLink, AuditSeal

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def pg(backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL's own behaviour: commit order apart from id order, row locks, triggers")


@contextmanager
def as_database_administrator(engine):
    """A transaction of someone who can write the database but does not have the audit key: on PostgreSQL the
    append-only triggers are bypassed the way a superuser would (replication role), on SQLite there are none."""
    with db.transaction(engine) as s:
        if engine.dialect.name == "postgresql":
            s.execute(text("SET LOCAL session_replication_role = replica"))
        yield s


def sealed_log(engine):
    audit.seal_pending(engine)
    with db.new_session(engine) as s:
        return s.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().all()


def report(engine, **kwargs):
    with db.new_session(engine) as s:
        return audit.verify(s, **kwargs)


def test_an_untouched_log_verifies_sealed_and_unsealed(demo, engine):
    assert report(engine).ok
    sealed_log(engine)
    with db.transaction(engine) as s:
        audit.record(s, None, "test.fresh", "thing", entity_id=1)
    fresh = report(engine)
    assert fresh.ok and fresh.unsealed == 1 and fresh.checked > 1
    sealed_log(engine)
    again = report(engine)
    assert again.ok and again.unsealed == 0 and again.checked == fresh.checked


def test_an_edited_entry_is_named_even_when_its_mac_is_recomputed_without_the_key(demo, engine):
    ids = sealed_log(engine)
    victim = ids[len(ids) // 2]
    with as_database_administrator(engine) as s:
        entry = s.get(AuditEntry, victim)
        entry.username = "someone-else"
        entry.mac = audit.entry_mac(b"a guess at the key", entry)  # the project's own function, the wrong key
    broken = report(engine)
    assert not broken.ok and broken.first_broken_id == victim and "修改" in broken.reason


def test_rewriting_an_entry_and_every_link_after_it_is_detected(demo, engine):
    """The attack that passed the unkeyed chain: change an author, then recompute every later hash and the head."""
    ids = sealed_log(engine)
    victim = ids[1]
    guess = b"not the audit key"
    with as_database_administrator(engine) as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == victim).values(username="mallory"))
        entry = s.get(AuditEntry, victim)
        s.execute(update(AuditEntry).where(AuditEntry.id == victim).values(mac=audit.entry_mac(guess, entry)))
        prev = audit.GENESIS
        for link in s.execute(select(AuditLink).order_by(AuditLink.position)).scalars():
            mac = s.get(AuditEntry, link.entry_id).mac
            prev = audit.link_hash(guess, prev, link.position, link.entry_id, mac)
            link.hash = prev
        for seal in s.execute(select(AuditSeal)).scalars():
            seal.head = prev
    assert not report(engine).ok


def test_an_unsealed_entry_edited_is_detected_too(demo, engine):
    sealed_log(engine)
    with db.transaction(engine) as s:
        audit.record(s, None, "test.fresh", "thing", entity_id=1, after={"kg": 500})
    with db.new_session(engine) as s:
        fresh = s.execute(select(AuditEntry.id).where(AuditEntry.action == "test.fresh")).scalar_one()
    with as_database_administrator(engine) as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == fresh).values(after='{"kg":5000}'))
    assert report(engine).first_broken_id == fresh


def test_a_deleted_entry_is_named(demo, engine):
    ids = sealed_log(engine)
    with as_database_administrator(engine) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    broken = report(engine)
    assert broken.first_broken_id == ids[1] and "删除" in broken.reason


def test_deleting_the_newest_entries_with_their_seal_is_caught_by_the_printed_head(demo, engine):
    sealed_log(engine)
    with db.new_session(engine) as s:
        printed = audit.head_of(s)
    with db.transaction(engine) as s:
        audit.record(s, None, "test.after-print", "thing", entity_id=1)
    sealed_log(engine)
    with db.new_session(engine) as s:
        newest = audit.head_of(s)
    assert newest.seq == printed.seq + 1
    assert report(engine, expected=(newest.seq, newest.head)).ok
    with as_database_administrator(engine) as s:
        gone = s.execute(select(AuditLink.entry_id).where(AuditLink.seal_id == newest.seq)).scalars().all()
        s.execute(delete(AuditLink).where(AuditLink.seal_id == newest.seq))
        s.execute(delete(AuditSeal).where(AuditSeal.id == newest.seq))
        s.execute(delete(AuditEntry).where(AuditEntry.id.in_(gone)))
    assert report(engine, expected=(printed.seq, printed.head)).ok  # what was printed before still holds
    caught = report(engine, expected=(newest.seq, newest.head))
    assert not caught.ok and "打印" in caught.reason


def test_a_changed_seal_is_detected(demo, engine):
    sealed_log(engine)
    with as_database_administrator(engine) as s:
        s.execute(update(AuditSeal).where(AuditSeal.id == 1).values(head="f" * 64))
    broken = report(engine)
    assert not broken.ok and "封存" in broken.reason


def test_a_rolled_back_change_leaves_no_entry(demo, engine):
    with db.new_session(engine) as s:
        before = s.execute(select(AuditEntry.id)).scalars().all()
    s = db.new_session(engine, write=True)
    audit.record(s, None, "test.nothing", "thing", entity_id=1)
    s.rollback()
    s.close()
    with db.new_session(engine) as s:
        assert s.execute(select(AuditEntry.id)).scalars().all() == before


def test_id_numbers_never_appear_whole_in_the_log(demo, engine):
    from subsidy.models import Household

    with db.transaction(engine) as s:
        household = s.execute(select(Household)).scalars().first()
        audit.record(s, None, "household.viewed", household)
        number = household.id_number
    with db.new_session(engine) as s:
        texts = s.execute(select(AuditEntry.after)).scalars().all()
    assert not any(number in text for text in texts)
    assert any(number[:6] + "********" + number[-4:] in text for text in texts)


def test_a_retired_key_still_verifies_its_entries_and_a_missing_one_is_named(demo, engine, monkeypatch):
    sealed_log(engine)
    old = os.environ["SUBSIDY_AUDIT_KEY"]
    monkeypatch.setenv("SUBSIDY_AUDIT_KEY", "2027a:" + "n" * 40)
    monkeypatch.setenv("SUBSIDY_AUDIT_OLD_KEYS", old)
    get_settings.cache_clear()
    try:
        with db.transaction(engine) as s:
            audit.record(s, None, "test.rotated", "thing", entity_id=1)
        sealed_log(engine)
        with db.new_session(engine) as s:
            assert s.execute(select(AuditEntry.key_id).where(AuditEntry.action == "test.rotated")).scalar() == "2027a"
        assert report(engine).ok
        monkeypatch.delenv("SUBSIDY_AUDIT_OLD_KEYS")
        get_settings.cache_clear()
        missing = report(engine)
        assert not missing.ok and old.split(":")[0] in missing.reason
    finally:
        get_settings.cache_clear()


def test_the_audit_key_must_differ_from_the_secret_key(monkeypatch):
    monkeypatch.setenv("SUBSIDY_AUDIT_KEY", "k:" + os.environ["SECRET_KEY"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="SECRET_KEY"):
            get_settings()
    finally:
        get_settings.cache_clear()


def _writers(engine, threads: int, rounds: int, pause: float = 0.0) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                s = db.new_session(engine, write=True)
                try:
                    def work():
                        for k in range(1 + (n + i) % 3 // 2):  # mostly one entry, sometimes two
                            audit.record(s, None, "test.concurrent", "thing", entity_id=f"{n}-{i}-{k}",
                                         after={"n": n, "i": i, "名称": "测试\x1f分隔"})
                        if pause:
                            time.sleep(pause)  # hold the transaction open, as a sale holds its locks
                    db.run_in_transaction(s, work)
                finally:
                    s.close()
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return errors


def _expected(threads: int, rounds: int) -> int:
    return sum(1 + (n + i) % 3 // 2 for n in range(threads) for i in range(rounds))


@pytest.mark.xdist_group("serial")  # a load that times itself: off the other heavy loads (docs/tests.md)
def test_concurrent_writers_and_a_sealer_link_every_entry_exactly_once(demo, engine):
    done = threading.Event()

    def sealer() -> None:
        while not done.is_set():
            audit.seal_pending(engine)
            time.sleep(0.01)

    sealing = threading.Thread(target=sealer)
    sealing.start()
    try:
        assert _writers(engine, 8, 15) == []
    finally:
        done.set()
        sealing.join()
    sealed_log(engine)
    with db.new_session(engine) as s:
        added = s.execute(select(AuditEntry.entity_id).where(AuditEntry.action == "test.concurrent")).scalars().all()
        entries = s.execute(select(func.count()).select_from(AuditEntry)).scalar()
        links = s.execute(select(func.count(AuditLink.entry_id.distinct()))).scalar()
    checked = report(engine)
    assert checked.ok, checked.reason
    assert len(added) == len(set(added)) == _expected(8, 15)
    assert links == entries == checked.checked and checked.unsealed == 0


@pytest.mark.xdist_group("serial")  # a load that times itself: off the other heavy loads (docs/tests.md)
def test_sixteen_writers_never_wait_for_each_other_on_the_audit_tables(demo, engine, pg):
    """Every transaction holds itself open after its entry is written; if entries queued on a shared row, the
    others' appends would show as lock waits on the audit tables. A wait for the relation's extension lock
    (`locktype = 'extend'`: the storage adding a page to the table's file, held for that moment only, by any
    insert-heavy table alike) is not a wait on another writer's entry and is left out. pg_locks is the whole server's:
    only this test's database counts (another test may be writing its own audit tables meanwhile, docs/tests.md)."""
    tables = ("audit_entry", "audit_link", "audit_seal")
    waits: list[tuple] = []
    done = threading.Event()

    def watch() -> None:
        with engine.connect() as conn:
            while not done.is_set():
                waits.extend(conn.execute(text(
                    "SELECT relation::regclass::text, mode FROM pg_locks "
                    "WHERE NOT granted AND locktype <> 'extend' AND relation::regclass::text = ANY(:t) "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                    {"t": list(tables)}).all())
                conn.commit()
                time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        errors = _writers(engine, 16, 6, pause=0.01)
    finally:
        done.set()
        watcher.join()
    assert errors == []
    assert waits == []
    sealed_log(engine)
    checked = report(engine)
    assert checked.ok and checked.unsealed == 0
    with db.new_session(engine) as s:
        assert len(s.execute(select(AuditEntry.id).where(AuditEntry.action == "test.concurrent")).all()) \
            == _expected(16, 6)


def test_an_entry_committed_after_a_later_one_is_sealed_by_the_next_seal(demo, engine, pg):
    """Commit order apart from id order: the older id commits last and must not be passed over."""
    sealed_log(engine)
    slow = db.new_session(engine, write=True)
    try:
        audit.record(slow, None, "test.slow", "thing", entity_id=1)
        audit._write_pending(slow)  # its entry is written (it has its id) but it does not commit yet
        with db.transaction(engine) as fast:
            audit.record(fast, None, "test.fast", "thing", entity_id=2)
        first = audit.seal_pending(engine)
        with db.new_session(engine) as s:
            linked = set(s.execute(select(AuditLink.entry_id)).scalars())
            fast_id = s.execute(select(AuditEntry.id).where(AuditEntry.action == "test.fast")).scalar_one()
        assert first and fast_id in linked
        slow.commit()
    finally:
        slow.close()
    audit.seal_pending(engine)
    with db.new_session(engine) as s:
        slow_id = s.execute(select(AuditEntry.id).where(AuditEntry.action == "test.slow")).scalar_one()
        linked = s.execute(select(AuditLink.entry_id)).scalars().all()
    assert slow_id < fast_id and slow_id in linked and len(linked) == len(set(linked))
    checked = report(engine)
    assert checked.ok and checked.unsealed == 0


def test_a_process_killed_between_its_commit_and_the_seal_loses_nothing(demo, engine, db_url):
    sealed_log(engine)
    script = textwrap.dedent("""
        import os, signal
        from subsidy.core import audit, db
        with db.transaction() as s:
            audit.record(s, None, "test.killed", "thing", entity_id=7)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "DATABASE_URL": db_url, "SUBSIDY_AUDIT_SEAL_SECONDS": "0"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert report(engine).unsealed == 1
    sealed_log(engine)
    with db.new_session(engine) as s:
        killed = s.execute(select(AuditEntry.id).where(AuditEntry.action == "test.killed")).scalar_one()
        assert s.execute(select(AuditLink.entry_id).where(AuditLink.entry_id == killed)).scalar() == killed
    assert report(engine).ok


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET username = 'x'", "DELETE FROM audit_entry", "TRUNCATE audit_entry CASCADE",
    "UPDATE audit_link SET hash = 'x'", "DELETE FROM audit_seal",
])
def test_the_audit_tables_refuse_updates_and_deletes_on_postgresql(demo, engine, pg, statement):
    sealed_log(engine)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.transaction(engine) as s:
            s.execute(text(statement))
    assert report(engine).ok
