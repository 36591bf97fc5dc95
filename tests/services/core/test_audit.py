"""The audit log is a hash chain: editing or deleting an entry is detected and named."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from subsidy.core import audit, db
from subsidy.models import AuditEntry


def test_an_untouched_log_verifies(demo, engine):
    with db.new_session(engine) as s:
        report = audit.verify(s)
    assert report.ok and report.checked > 0


def test_a_tampered_entry_is_detected_and_named(demo, engine):
    with db.new_session(engine) as s:
        ids = s.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().all()
    victim = ids[len(ids) // 2]
    with db.transaction(engine) as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == victim).values(username="someone-else"))
    with db.new_session(engine) as s:
        report = audit.verify(s)
    assert not report.ok and report.first_broken_id == victim


def test_a_deleted_entry_is_detected(demo, engine):
    with db.new_session(engine) as s:
        ids = s.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().all()
    with db.transaction(engine) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    with db.new_session(engine) as s:
        report = audit.verify(s)
    assert report.first_broken_id == ids[2]


def test_deleting_the_newest_entry_is_detected(demo, engine):
    with db.new_session(engine) as s:
        last = s.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc())).scalars().first()
    with db.transaction(engine) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == last))
    with db.new_session(engine) as s:
        assert not audit.verify(s).ok


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


def test_concurrent_writers_chain_every_entry_exactly_once(demo, engine):
    """Many transactions appending at once (one entry each, and some with several): the chain has no fork and no
    gap, whatever the interleaving. On PostgreSQL the one-entry append is a single statement hashed by the
    database; this is where a mistake in it would show."""
    import threading

    with db.new_session(engine) as s:
        before = s.execute(select(AuditEntry.id)).scalars().all()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                s = db.new_session(engine, write=True)
                try:
                    def work():
                        for k in range(1 + (n + i) % 3 // 2):  # mostly one entry, sometimes two
                            audit.record(s, None, "test.concurrent", "thing", entity_id=f"{n}-{i}-{k}",
                                         after={"n": n, "i": i, "名称": "测试\x1f分隔"})
                    db.run_in_transaction(s, work)
                finally:
                    s.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.new_session(engine) as s:
        report = audit.verify(s)
        added = s.execute(select(AuditEntry.entity_id).where(AuditEntry.action == "test.concurrent")).scalars().all()
        hashes = s.execute(select(AuditEntry.prev_hash)).scalars().all()
    assert report.ok, report.reason
    assert report.checked == len(before) + len(added)
    assert len(added) == len(set(added)) == sum(1 + (n + i) % 3 // 2 for n in range(8) for i in range(15))
    assert len(hashes) == len(set(hashes))  # no two entries chained onto the same predecessor
