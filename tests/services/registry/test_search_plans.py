"""The household search classifies what was typed and each kind reads its own index (issue #19): the results on both
databases, and PostgreSQL's plans at 100,000 households."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from subsidy.models import Household
from subsidy.registry import households
from tests.factories.registry import household_input, new_id_number
from tests.services.registry.test_households import scoped


def _registered(engine, session, **overrides) -> Household:
    actor, s = scoped(engine, session, "dongguan")
    made = households.register_household(s, actor, actor.village_id, household_input(**overrides))
    s.commit()
    s.close()
    return made


def _found(session, q: str) -> list[int]:
    return [h.id for h in households.list_households(session, q=q).items]


def test_a_whole_id_number_finds_its_household_and_no_name(demo, engine, session):
    whole = new_id_number()
    made = _registered(engine, session, head_name="李秀英", id_number=whole)
    assert _found(session, whole) == [made.id]
    assert _found(session, f"{whole[:6]} {whole[6:14]}-{whole[14:].lower()}") == [made.id]
    assert _found(session, whole[:-1] + ("0" if whole[-1] != "0" else "1")) == []


def test_four_trailing_characters_find_id_numbers_and_phones_ending_so(demo, engine, session):
    made = _registered(engine, session, head_name="赵春梅", phone="13905389876")
    by_id = _found(session, made.id_number[-4:])
    by_phone = _found(session, "9876")
    assert made.id in by_id and made.id in by_phone
    assert all(h.id_number.endswith(made.id_number[-4:]) or h.phone.endswith(made.id_number[-4:])
               for h in households.list_households(session, q=made.id_number[-4:]).items)


def test_six_trailing_characters_find_the_id_numbers_ending_so_and_no_phone(demo, engine, session):
    whole = new_id_number()
    made = _registered(engine, session, head_name="钱玉兰", id_number=whole, phone="13905778899")
    found = households.list_households(session, q=whole[-6:].lower()).items
    assert made.id in [h.id for h in found]
    assert all(h.id_number.endswith(whole[-6:]) for h in found)
    assert made.id not in _found(session, whole[-7:-1])  # six characters, but not the last six
    assert made.id not in _found(session, "778899")  # the phone's last six: phones are found whole or by four


def test_an_edited_id_number_is_found_by_its_new_last_six_and_not_its_old(demo, engine, session):
    made = _registered(engine, session, head_name="冯建国")
    old, new = made.id_number, new_id_number()
    actor, s = scoped(engine, session, "dongguan")
    households.edit_household(s, actor, made.id, household_input(head_name="冯建国", id_number=new))
    s.commit()
    s.close()
    assert old[-6:] != new[-6:]
    assert made.id in _found(session, new[-6:])
    assert made.id not in _found(session, old[-6:])


def test_a_phone_is_found_whatever_its_separators_and_a_fragment_of_other_length_finds_nothing(demo, engine, session):
    made = _registered(engine, session, head_name="孙立平", phone="13605381122")
    assert _found(session, "136 0538 1122") == [made.id]
    assert _found(session, "136-0538-1122") == [made.id]
    assert _found(session, "0538112") == []  # seven digits: neither a phone nor a tail; sealed values have no parts


def test_a_name_is_found_by_any_part_of_it_and_wildcards_are_taken_literally(demo, engine, session):
    made = _registered(engine, session, head_name="欧阳春梅")
    assert _found(session, "阳春") == [made.id]
    assert _found(session, "欧阳春梅") == [made.id]
    assert _found(session, "%") == []
    assert _found(session, "欧_春") == []


def test_a_name_search_never_matches_by_id_number_or_phone(demo, engine, session):
    _registered(engine, session, head_name="周正", phone="13905381234")
    assert all("周" in h.head_name for h in households.list_households(session, q="周").items)


def _many_named(session, village_id: int, name: str, n: int) -> None:
    """`n` households named `name` in one village, written at once, all with one ID number and phone (sealed by the
    column type; their lookup hashes placeholders, unique)."""
    from subsidy.core import clock

    now = clock.now()
    session.execute(Household.__table__.insert(), [
        {"village_id": village_id, "head_name": name, "id_number": "370902199001010011", "id_number_hmac": f"many-i{i}",
         "id_number_tail": "0000", "id_number_tail6_hmac": f"many-t{i}", "phone": "13905380000",
         "phone_hmac": f"many-p{i}", "phone_tail": "0000", "address": "东关村", "address_key": f"many-{i}",
         "category": "ordinary", "created_at": now, "updated_at": now} for i in range(n)])


def test_a_name_search_counts_to_1000_and_the_others_to_10000(demo, engine, session):
    """Issue #19: counting a common name's matches to 10,000 reads 200,000 rows at a million households; a search by
    name counts to 1,000 ("1,000+"), exactly on request; an ID number's search keeps the lists' cap."""
    made = _registered(engine, session, head_name="欧阳春梅")
    _many_named(session, made.village_id, "欧阳小明", households.NAME_COUNT_CAP + 200)
    session.commit()
    by_name = households.list_households(session, q="欧阳")
    assert (by_name.total, by_name.total_capped) == (1000, True) and len(by_name.items) == households.PER_PAGE
    exact = households.list_households(session, q="欧阳", count="exact")
    assert (exact.total, exact.total_capped) == (1201, False)
    assert households.list_households(session, q="欧阳", count=False).total is None
    every = households.list_households(session)
    assert every.total > 1201 and not every.total_capped  # the list itself: to 10,000
    whole = households.list_households(session, q=made.id_number)
    assert (whole.total, whole.total_capped, [h.id for h in whole.items]) == (1, False, [made.id])


# --- plans ----------------------------------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"

_LOAD = text("""
    INSERT INTO household (village_id, head_name, id_number_sealed, id_number_hmac, id_number_tail,
                           id_number_tail6_hmac, phone_sealed, phone_hmac, phone_tail, address, category, created_at,
                           updated_at)
    SELECT :village,
           substr(:surnames, 1 + i % 20, 1) || substr(:given, 1 + (i / 20) % 28, 1)
               || CASE WHEN i % 3 = 0 THEN substr(:given, 1 + (i / 560) % 28, 1) ELSE '' END,
           'plan:x', md5('i' || i) || md5('j' || i), lpad((i % 10000)::text, 4, '0'), md5('t' || i) || md5('u' || i),
           'plan:x', md5('p' || i) || md5('q' || i), lpad(((i * 7) % 10000)::text, 4, '0'),
           '东关村', 'ordinary', now(), now()
    FROM generate_series(1, :n) AS i
""")


def _indexes(plan: dict) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", ()):
        found |= _indexes(child)
    return found


def _plan(session, q: str) -> tuple[set[str], str]:
    stmt = select(Household.id).where(households._matching(q)).order_by(Household.id).limit(households.PER_PAGE)
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return _indexes(plan), json.dumps(plan, ensure_ascii=False)


@pytest.mark.pg_only(reason="the plans of PostgreSQL's indexes (pg_trgm's GIN index exists on PostgreSQL alone)")
def test_each_kind_of_search_reads_its_index_at_100000_households(demo, engine, session):
    whole = new_id_number()
    made = _registered(engine, session, head_name="欧阳春梅", id_number=whole, phone="13705384455")
    session.execute(_LOAD, {"village": made.village_id, "surnames": SURNAMES, "given": GIVEN, "n": 100_000})
    session.execute(text("ANALYZE household"))
    expected = {
        whole: {"uq_household_id_number_hmac"},
        "137 0538 4455": {"ix_household_phone_hmac"},
        whole[-4:]: {"ix_household_id_number_tail", "ix_household_phone_tail"},
        whole[-6:]: {"ix_household_id_number_tail6_hmac"},
        "欧阳春": {"ix_household_head_name_trgm"},
    }
    for q, indexes in expected.items():
        used, plan = _plan(session, q)
        assert used == indexes, f"{q!r} should read {indexes} alone: {plan}"
        assert "Seq Scan" not in plan, f"{q!r} scans the table: {plan}"
    assert [h.id for h in households.list_households(session, q="欧阳春").items] == [made.id]
