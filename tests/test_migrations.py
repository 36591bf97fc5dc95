"""The schema is Alembic's: migrations reach head and leave nothing for autogenerate to add."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from subsidy.core import db
from subsidy.models import metadata
from subsidy.models.base import include_object_on


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": include_object_on(connection.dialect.name)}), metadata)
    assert diff == []


def test_alembic_check_is_clean(db_url):
    command.check(db.alembic_config(db_url))


def test_the_app_refuses_to_start_on_an_outdated_database(tmp_path, monkeypatch):
    import pytest

    from subsidy.core.settings import get_settings
    from web.app import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    db.dispose_engines()
    with pytest.raises(SystemExit) as refused:
        create_app()
    assert "subsidy db upgrade" in str(refused.value)
    db.dispose_engines()
    get_settings.cache_clear()


def _legacy_log(url: str, *, tamper: bool = False) -> None:
    """Three entries chained the way revision 0001 chained them (SHA-256 over the previous hash and the content)."""
    import hashlib
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from subsidy.core.audit import _stamp

    engine = sa.create_engine(url)
    prev = "0" * 64
    with engine.begin() as conn:
        for n in range(3):
            at = datetime(2026, 11, 30, 15, 59, n, 123456, tzinfo=timezone.utc)
            values = dict(at=at, user_id=None, username="system", action="test.legacy", entity="thing",
                          entity_id=str(n), before="", after=f'{{"n":{n}}}')
            content = "\x1f".join([prev, _stamp(at), "", "system", "test.legacy", "thing", str(n), "", values["after"]])
            digest = hashlib.sha256(content.encode()).hexdigest()
            if tamper and n == 1:
                values["username"] = "mallory"
            conn.execute(sa.text('INSERT INTO audit_entry (at, user_id, username, action, entity, entity_id, "before", '
                                 '"after", prev_hash, hash) VALUES (:at, :user_id, :username, :action, :entity, '
                                 ':entity_id, :before, :after, :prev, :hash)'),
                         {**values, "at": at.replace(tzinfo=None), "prev": prev, "hash": digest})
            prev = digest
        conn.execute(sa.text("UPDATE audit_head SET last_hash = :h, count = 3 WHERE id = 1"), {"h": prev})
    engine.dispose()


def test_an_existing_log_is_checked_signed_and_sealed_by_the_upgrade(tmp_path):
    from alembic import command

    from subsidy.core import audit

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    command.upgrade(db.alembic_config(url), "0010")
    _legacy_log(url)
    command.upgrade(db.alembic_config(url), "head")
    engine = db.make_engine(url)
    with db.new_session(engine) as s:
        report = audit.verify(s)
        head = audit.head_of(s)
    engine.dispose()
    assert report.ok and report.checked == 3 and report.unsealed == 0 and head.entries == 3


def test_an_upgrade_refuses_to_re_sign_a_chain_that_was_already_broken(tmp_path):
    import pytest
    from alembic import command

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    command.upgrade(db.alembic_config(url), "0010")
    _legacy_log(url, tamper=True)
    with pytest.raises(RuntimeError, match="broken at entry 2"):
        command.upgrade(db.alembic_config(url), "head")


def test_db_upgrade_says_whether_it_created_upgraded_or_found_the_schema_current(db_url, tmp_path, monkeypatch,
                                                                                 capsys):
    from alembic.script import ScriptDirectory

    from subsidy import cli
    from subsidy.core.settings import get_settings

    head = ScriptDirectory.from_config(db.alembic_config(db_url)).get_current_head()
    previous = ScriptDirectory.from_config(db.alembic_config(db_url)).get_revision(head).down_revision
    # The test's database (at head): current; one migration back: upgraded from that one.
    assert cli.main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"database schema is already current (migration {head}); nothing to do"
    command.downgrade(db.alembic_config(db_url), previous)
    db.dispose_engines()
    assert cli.main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"upgraded the database schema from migration {previous} to {head}"
    # A new database: the schema was created.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    get_settings.cache_clear()
    db.dispose_engines()
    assert cli.main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"created the database schema (migration {head})"
    db.dispose_engines()
    get_settings.cache_clear()
def test_the_upgrade_seals_plaintext_id_numbers_in_batches_and_they_are_still_found(db_url):
    """0013_h_crypt on a database that holds plaintext households and slips (more than one batch of them): after
    it, no ID number or phone is left in clear, and each is still found by its lookup hash and read back whole. The
    downgrade (which opens them again) gives the plaintext database to start from."""
    from datetime import date, datetime

    import sqlalchemy as sa

    from subsidy import demo
    from subsidy.core import vault
    from subsidy.models import Household, Slip
    from subsidy.registry import households
    from subsidy.rules.idnumbers import make_id_number
    from tests.factories import sales as f
    from tests.services.sales.test_slips import issue
    from tests.web.test_sealed_at_rest import clear_text_hits

    url = db_url
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
        h, r = f.household(s, "dongguan")
        s.expunge(r)
    with db.new_session(engine, write=True) as s:
        slip = issue(s, "coal-a", r)
        sold = (slip.id, slip.id_number, slip.phone)
    engine.dispose()
    command.downgrade(db.alembic_config(url), "0013_h_crypt-1")
    # A region of their own: the factories' households (370911, a serial shared by the worker's earlier tests)
    # could otherwise meet one of these and break the household's unique ID number.
    extra = [make_id_number("370983", date(1940 + n % 50, n % 12 + 1, n % 28 + 1), f"{n % 1000:03d}")
             for n in range(2100)]
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT phone FROM slip WHERE id = :i"), {"i": sold[0]}).scalar() == sold[2]
        village_id = connection.execute(sa.text("SELECT min(id) FROM village")).scalar()
        connection.execute(sa.text(
            "INSERT INTO household (village_id, head_name, id_number, phone, address, category, created_at, "
            "updated_at) VALUES (:v, '某', :n, :p, '某处', 'ordinary', :t, :t)"),
            [{"v": village_id, "n": n, "p": f"1390000{i:04d}", "t": datetime(2026, 12, 1)}
             for i, n in enumerate(extra)])
    engine.dispose()
    assert clear_text_hits(engine, (extra[-1], sold[1])) == ["household.id_number", "slip.id_number"]
    command.upgrade(db.alembic_config(url), "head")
    engine.dispose()
    engine = db.make_engine(url)
    assert clear_text_hits(engine, (extra[0], extra[-1], sold[1], sold[2], "13900002099")) == []
    with db.new_session(engine) as s:
        for n in (extra[0], extra[1500], extra[-1], h.id_number):
            found = households.holder_of(s, n)
            assert found is not None and s.get(Household, found[0]).id_number == n
        kept = s.get(Slip, sold[0])
        assert (kept.id, kept.id_number, kept.phone) == sold
        assert s.execute(sa.select(sa.func.count()).select_from(Household)
                         .where(Household.phone_hmac == vault.blind("phone", "13900002099"))).scalar_one() == 1
    engine.dispose()


def test_the_upgrade_writes_the_address_key_of_every_existing_household_in_batches(db_url):
    """0015_h_anomalies on a database whose households (more than one batch of them) have no address key yet:
    each gets its address's normal form, so the shared_address rule finds households registered before it."""
    import sqlalchemy as sa

    from subsidy import demo
    from subsidy.rules.addresses import address_key

    engine = db.make_engine(db_url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
    engine.dispose()
    command.downgrade(db.alembic_config(db_url), "0015_h_anomalies-1")
    spellings = ["东关村 三组 ５号", "东关村3組5號", "东关村第三队5#"]
    with engine.begin() as connection:
        [first] = connection.execute(sa.text("SELECT min(id) FROM household")).one()
        ids = connection.execute(sa.text("SELECT id FROM household ORDER BY id")).scalars().all()
        for n, household_id in enumerate(ids):
            connection.execute(sa.text("UPDATE household SET address = :a WHERE id = :i"),
                               {"a": spellings[n % 3], "i": household_id})
    engine.dispose()
    command.upgrade(db.alembic_config(db_url), "head")
    engine.dispose()
    with engine.connect() as connection:
        keys = connection.execute(sa.text("SELECT DISTINCT address_key FROM household")).scalars().all()
        assert keys == [address_key(spellings[0])] == ["东关村3组5号"]
        assert first == ids[0] and len(ids) > 3
    engine.dispose()


def test_the_upgrade_hashes_the_last_six_of_every_existing_id_number_and_marks_the_households_changed(db_url):
    """0016_h_scale on a database whose households (more than one batch of them) have no tail hash yet: each is found
    by its last six characters afterwards, and each is stamped changed for the platform export (an export had moved
    the SQLite epoch on in between; on PostgreSQL the stamp is the upgrade's transaction)."""
    from datetime import date, datetime, timezone

    import sqlalchemy as sa

    from subsidy import demo
    from subsidy.core import vault
    from subsidy.models import Household
    from subsidy.registry import households
    from subsidy.rules.idnumbers import make_id_number

    engine = db.make_engine(db_url)
    extra = [make_id_number("370911", date(1940 + n % 50, n % 12 + 1, n % 28 + 1), f"{n % 1000:03d}")
             for n in range(1200)]
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
        village_id = s.execute(sa.select(sa.func.min(Household.village_id))).scalar_one()
        s.execute(sa.insert(Household.__table__), [
            {"village_id": village_id, "head_name": "某某", "id_number": n, "phone": "", "address": "某处",
             "category": "ordinary", "created_at": datetime(2026, 12, 1, tzinfo=timezone.utc),
             "updated_at": datetime(2026, 12, 1, tzinfo=timezone.utc)}
            for n in extra])
    engine.dispose()
    command.downgrade(db.alembic_config(db_url), "0016_h_scale-1")
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(sa.text("UPDATE export_clock SET epoch = epoch + 1 WHERE id = 1"))
        before = connection.execute(sa.text("SELECT max(change_seq) FROM household")).scalar()
    engine.dispose()
    command.upgrade(db.alembic_config(db_url), "head")
    engine.dispose()
    engine = db.make_engine(db_url)
    with db.new_session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Household)
                         .where(Household.id_number_tail6_hmac == "")).scalar_one() == 0
        assert s.execute(sa.select(sa.func.min(Household.change_seq))).scalar_one() > before
        for n in (extra[0], extra[700], extra[-1]):
            found = [h.id_number for h in households.list_households(s, q=n[-6:]).items]
            assert n in found and all(i.endswith(n[-6:]) for i in found)
        one = s.execute(sa.select(Household).where(Household.id_number_hmac == vault.blind("id_number", extra[1])))
        assert one.scalar_one().id_number_tail6_hmac == vault.tail6_blind("id_number", extra[1][-6:])
    engine.dispose()
