"""ID numbers and phones sealed at rest (subsidy/core/vault.py, subsidy/models/sealed.py): what is stored, what finds
it, what the database enforces on it, how its key rotates, and that a wrong key stops the start instead of reading
garbage or finding nobody."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from subsidy import cli
from subsidy.core import datakeys, db, vault
from subsidy.core.errors import Conflict
from subsidy.core.scope import Scope
from subsidy.core.settings import get_settings
from subsidy.models import Household, Slip
from subsidy.registry import households
from tests.factories.registry import household_input, new_id_number, user


def _register(engine, **overrides) -> Household:
    with db.transaction(engine) as s:
        actor = user(s, "dongguan")
        made = households.register_household(s, actor, actor.village_id, household_input(**overrides))
        s.expunge(made)
    return made


def _stored(engine, household_id: int):
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT * FROM household WHERE id = :i"), {"i": household_id}).one()


def test_the_row_holds_a_ciphertext_under_the_key_id_a_keyed_hash_and_the_last_four(demo, engine):
    id_number = new_id_number()
    made = _register(engine, id_number=id_number, phone="13905387766")
    row = _stored(engine, made.id)
    assert row.id_number_sealed.startswith("test:") and id_number not in row.id_number_sealed
    assert row.id_number_hmac == vault.blind("id_number", id_number) and len(row.id_number_hmac) == 64
    assert (row.id_number_tail, row.phone_tail) == (id_number[-4:], "7766")
    # The last six are a hash of their own: not the whole number's, and not in clear.
    assert row.id_number_tail6_hmac == vault.tail6_blind("id_number", id_number) == vault.tail6_blind("id_number",
                                                                                                      id_number[-6:])
    assert len(row.id_number_tail6_hmac) == 64 and row.id_number_tail6_hmac != vault.blind("id_number", id_number[-6:])
    assert "id_number" not in row._mapping and "phone" not in row._mapping
    with db.new_session(engine) as s:
        assert (s.get(Household, made.id).id_number, s.get(Household, made.id).phone) == (id_number, "13905387766")
    # The same value seals differently every time (random nonce), and a ciphertext moved to another field fails.
    assert vault.seal("id_number", id_number) != vault.seal("id_number", id_number)
    with pytest.raises(vault.VaultError, match="does not decrypt"):
        vault.open_sealed("phone", row.id_number_sealed)


def test_comparing_the_sealed_column_is_refused_instead_of_matching_nobody():
    with pytest.raises(TypeError, match="_hmac"):
        select(Household).where(Household.id_number == "370902195703296189")
    with pytest.raises(TypeError):
        select(Slip).where(Slip.phone.endswith("1234"))


def test_an_edit_moves_the_hash_and_the_tail_with_the_value(demo, engine):
    made = _register(engine)
    new_number = new_id_number()
    with db.transaction(engine) as s:
        actor = user(s, "dongguan")
        households.edit_household(s, actor, made.id, household_input(id_number=new_number, phone="0538-8221234"))
    row = _stored(engine, made.id)
    assert (row.id_number_hmac, row.id_number_tail) == (vault.blind("id_number", new_number), new_number[-4:])
    assert row.id_number_tail6_hmac == vault.tail6_blind("id_number", new_number)
    assert (row.phone_hmac, row.phone_tail) == (vault.blind("phone", "0538-8221234"), "1234")
    with db.new_session(engine) as s:
        assert households.holder_of(s, new_number)[0] == made.id
        assert households.holder_of(s, made.id_number) is None


def test_the_database_itself_refuses_a_second_household_with_the_same_id_number(demo, engine):
    made = _register(engine)
    template = {c: getattr(made, c) for c in ("village_id", "head_name", "address", "category")}
    with pytest.raises(IntegrityError):
        with db.transaction(engine) as s:  # around the service's check: the unique hash alone stops it
            s.execute(sa.insert(Household.__table__), [{**template, "id_number": made.id_number, "phone": ""}])


@pytest.mark.pg_only(reason="SQLite serialises the two registrations on its write lock")
def test_concurrent_registrations_of_one_id_number_keep_one_household(demo, engine):
    id_number = new_id_number()
    barrier = threading.Barrier(4, timeout=30)
    outcomes = []

    def register():
        s = db.new_session(engine, write=True)
        try:
            actor = user(s, "dongguan")
            s.expunge(actor)
            s.close()
            s = db.new_session(engine, write=True, scope=Scope.of(actor))
            barrier.wait()
            db.run_in_transaction(s, lambda: households.register_household(
                s, actor, actor.village_id, household_input(id_number=id_number)))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("refused")
        except IntegrityError as error:
            outcomes.append("refused" if db.is_unique_violation(error) else repr(error))
        finally:
            s.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["ok"] + ["refused"] * 3
    with db.new_session(engine) as s:
        assert s.execute(select(func.count()).select_from(Household)
                         .where(Household.id_number_hmac == vault.blind("id_number", id_number))).scalar_one() == 1


def test_the_search_by_the_last_four_finds_by_the_tail_and_the_whole_number_by_the_hash(demo, engine):
    made = _register(engine, phone="13905384321")
    with db.new_session(engine, scope=None) as s:
        by_tail = [h.id for h in households.list_households(s, q=made.id_number[-4:]).items]
        by_whole = [h.id for h in households.list_households(s, q=made.id_number).items]
        by_phone = [h.id for h in households.list_households(s, q="139 0538 4321").items]
    assert made.id in by_tail and by_whole == [made.id] and made.id in by_phone


def _use_keys(monkeypatch, data: str, old: str = "", lookup: str | None = None) -> None:
    monkeypatch.setenv("SUBSIDY_DATA_KEY", data)
    monkeypatch.setenv("SUBSIDY_DATA_OLD_KEYS", old)
    if lookup is not None:
        monkeypatch.setenv("SUBSIDY_LOOKUP_KEY", lookup)
    get_settings.cache_clear()


def _key_ids(engine) -> set[str]:
    with engine.connect() as connection:
        tokens = connection.execute(sa.text(
            "SELECT id_number_sealed FROM household UNION ALL SELECT phone_sealed FROM household "
            "UNION ALL SELECT id_number_sealed FROM slip UNION ALL SELECT phone_sealed FROM slip")).scalars()
        return {t.partition(":")[0] for t in tokens if t}


def test_rotation_re_encrypts_every_row_under_the_new_key_in_batches(demo, engine, monkeypatch, capsys):
    from tests.factories import sales as f
    from tests.services.sales.test_slips import issue

    with db.transaction(engine) as s:
        h, r = f.household(s, "dongguan")
        household_id, id_number, registration = h.id, h.id_number, r
        s.expunge(r)
    with db.new_session(engine, write=True) as s:
        slip = issue(s, "coal-a", registration)
        sold_to = (slip.id, slip.id_number, slip.phone)
    old = "test:" + "test-data-key-not-for-production-0123456789"
    assert _key_ids(engine) == {"test"}
    _use_keys(monkeypatch, "2027a:" + "r" * 40, old=old)
    assert cli.main(["keys", "rotate", "--batch", "7"]) == 0
    out = capsys.readouterr().out
    assert "re-encrypted under data key '2027a'" in out and "household 0, slip 0" in out
    assert _key_ids(engine) == {"2027a"}
    _use_keys(monkeypatch, "2027a:" + "r" * 40)  # the old key is no longer needed
    datakeys.check_keys(engine)
    with db.new_session(engine) as s:
        kept = s.get(Slip, sold_to[0])
        assert (kept.id, kept.id_number, kept.phone) == sold_to
        assert households.holder_of(s, id_number)[0] == household_id  # the hashes did not move
    assert cli.main(["keys", "rotate"]) == 0
    assert "household 0 row(s), slip 0 row(s)" in capsys.readouterr().out  # nothing left to do


@pytest.mark.parametrize("keys, says", [
    (dict(data="test:" + "w" * 40), "does not decrypt under data key 'test'"),
    (dict(data="2027b:" + "w" * 40), "sealed under data key 'test', which is neither"),
    (dict(data="test:test-data-key-not-for-production-0123456789", lookup="l" * 40), "SUBSIDY_LOOKUP_KEY is not"),
])
def test_a_wrong_key_stops_the_start_with_a_clear_error(demo, db_url, monkeypatch, keys, says):
    from web.app import create_app

    _use_keys(monkeypatch, **keys)
    with pytest.raises(SystemExit) as refused:
        create_app()
    assert says in str(refused.value)
    assert cli.main(["keys", "check"]) == 1


def test_no_data_key_stops_the_start(db_url, monkeypatch):
    from web.app import create_app

    _use_keys(monkeypatch, "")
    with pytest.raises(SystemExit, match="SUBSIDY_DATA_KEY and SUBSIDY_LOOKUP_KEY must both be set"):
        create_app()


def test_the_audit_of_a_registration_and_an_edit_holds_none_of_the_lookup_hashes(demo, engine):
    from subsidy.models import AuditEntry

    made = _register(engine)
    with db.transaction(engine) as s:
        actor = user(s, "dongguan")
        households.edit_household(s, actor, made.id, household_input(id_number=new_id_number()))
    row = _stored(engine, made.id)
    with db.new_session(engine, scope=None) as s:
        entries = s.execute(select(AuditEntry).where(AuditEntry.entity == "household",
                                                     AuditEntry.entity_id == str(made.id))).scalars().all()
    assert {e.action for e in entries} == {"household.registered", "household.edited"}
    written = " ".join(f"{e.before} {e.after}" for e in entries)
    assert "head_name" in written
    for secret in (made.id_number_hmac, made.id_number_tail6_hmac, row.id_number_hmac, row.id_number_tail6_hmac,
                   "_hmac", "tail6"):
        assert secret not in written
