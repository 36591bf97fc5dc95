"""Every list reads a page by its index, at any depth (issue #19 item 1; migration 0016_h_lists): on PostgreSQL at
50,000 rows in each listed table, the statement a list really sends (paging.fetch's, the scope's criteria included)
is EXPLAINed for its first page, the page after it and a keyset page in the middle of the list, and none may scan the
big table or sort its rows: a page is an index range, whatever the list's size or the page's depth.

The rows are loaded once for the module with generate_series into a database of its own (made from the demo's
template, dropped at the end); the tests only read. Each test still takes `db_url`, the marker `pg_only`'s way of
knowing the test is a database test (it runs with the postgresql backend only).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import event, select, text

from subsidy.core import audit, db, paging, vault
from subsidy.core.scope import Scope
from subsidy.models import User
from subsidy.oversight import cases
from subsidy.registry import households
from subsidy.sales import listing, scanning
from subsidy.settlement import statements, summaries
from tests.conftest import _create_pg_database, _drop_pg_database, _pg_url

ROWS = 50_000

_LOAD = [
    """INSERT INTO household (village_id, head_name, id_number_sealed, id_number_hmac, id_number_tail,
                              id_number_tail6_hmac, phone_sealed, phone_hmac, phone_tail, address, address_key, category,
                              created_at, updated_at)
       SELECT v.ids[1 + i % array_length(v.ids, 1)], '户' || (i % 997) || '号', :sealed_id, md5('i' || i) || md5('j' || i),
              lpad((i % 10000)::text, 4, '0'), md5('t' || i) || md5('u' || i), :sealed_phone, md5('p' || i) || md5('q' || i),
              lpad(((i * 7) % 10000)::text, 4, '0'), '某路' || i || '号', 'plan-' || i, 'ordinary', now(), now()
       FROM generate_series(1, :n) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM village) AS v""",
    """INSERT INTO registration (household_id, season_id, village_id, coal_kg, stoves, status, reject_reason,
                                 sold_coal_kg, sold_stoves, created_at)
       SELECT h.id, :season, h.village_id, 1000, 0, 'approved', '', 0, 0, now()
       FROM household h WHERE h.address_key LIKE 'plan-%'""",
    """INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id, village_id, status,
                         issued_at, issued_on, head_name, address, category, coal_kg, stoves, amount_fen, subsidy_fen,
                         void_reason, set_aside_reason, id_number_sealed, id_number_hmac, id_number_tail, phone_sealed,
                         phone_hmac, phone_tail)
       SELECT 'PLAN-' || lpad(r.id::text, 8, '0'), 100000 + r.id, s.ids[1 + r.id % array_length(s.ids, 1)], r.season_id,
              r.id, r.household_id, vl.town_id, r.village_id, 'issued', now(), date '2026-09-01' + (r.id % 120),
              h.head_name, h.address, 'ordinary', 100, 0, 11000, 3000, '', '', :sealed_id, h.id_number_hmac, '0000',
              :sealed_phone, h.phone_hmac, '0000'
       FROM registration r JOIN household h ON h.id = r.household_id JOIN village vl ON vl.id = r.village_id,
            (SELECT array_agg(id ORDER BY id) AS ids FROM supplier) AS s
       WHERE h.address_key LIKE 'plan-%'""",
    """INSERT INTO summary (supplier_id, town_id, season_id, month, status, slip_count, coal_kg, stoves, amount_fen,
                            subsidy_fen, created_at)
       SELECT s.ids[1 + i % array_length(s.ids, 1)], t.ids[1 + (i / 3) % array_length(t.ids, 1)], :season,
              to_char(date '2000-01-01' + (i % 300) * interval '1 month', 'YYYY-MM'), 'draft', 1, 100, 0, 11000, 3000,
              now()
       FROM generate_series(1, :n) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM supplier) AS s,
            (SELECT array_agg(id ORDER BY id) AS ids FROM town) AS t""",
    """INSERT INTO settlement (number, supplier_id, season_id, month, status, slip_count, coal_kg, stoves, amount_fen,
                               subsidy_fen, created_at, payment_reference, seq)
       SELECT 'PLANS-' || i, s.ids[1 + i % array_length(s.ids, 1)], :season,
              to_char(date '2000-01-01' + (i % 300) * interval '1 month', 'YYYY-MM'), 'settled', 1, 100, 0, 11000, 3000,
              now(), '', 100 + i
       FROM generate_series(1, :n) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM supplier) AS s""",
    """INSERT INTO oversight_case (number, season_id, seq, channel, category, description, town_id, status, deadline,
                                   finding, outcome, created_at)
       SELECT 'PLANC-' || i, :season, 100000 + i, 'hotline', 'other', '', 
              CASE WHEN i % 8 = 0 THEN NULL ELSE t.ids[1 + i % array_length(t.ids, 1)] END, 'open',
              date '2026-09-01' + (i % 200), '', '', now()
       FROM generate_series(1, :n) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM town) AS t""",
    """INSERT INTO audit_entry (at, user_id, username, action, entity, entity_id, before, after, key_id, mac)
       SELECT now(), CASE WHEN i % 10 = 0 THEN NULL ELSE u.ids[1 + i % array_length(u.ids, 1)] END, '',
              (ARRAY['household.registered', 'slip.issued', 'summary.approved', 'registration.approved'])[1 + i % 4],
              (ARRAY['household', 'slip', 'summary', 'registration'])[1 + i % 4], (i % 50)::text, '', '', 'plan',
              md5('m' || i)
       FROM generate_series(1, :n) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM app_user) AS u""",
]


@pytest.fixture(scope="module")
def big(templates) -> Iterator[object]:
    """An engine on a database holding the demo and ROWS more rows in each listed table, analysed."""
    name = f"plans_{uuid.uuid4().hex[:12]}"
    _create_pg_database(name, template=templates["postgresql+demo"])
    engine = db.get_engine(_pg_url(name))
    try:
        with engine.begin() as connection:
            season = connection.execute(text("SELECT id FROM season WHERE is_active")).scalar_one()
            # Every row's ID number and phone sealed as the app seals them (the lists open them); one value will do.
            values = {"n": ROWS, "season": season, "sealed_id": vault.seal("id_number", "370902199001010011"),
                      "sealed_phone": vault.seal("phone", "13905380000")}
            for statement in _LOAD:
                connection.execute(text(statement), values)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        yield engine
    finally:
        engine.dispose()
        db.dispose_engines()
        _drop_pg_database(name)


@dataclass(frozen=True)
class Case:
    """A list as one user reads it: `read(session, **page)` calls the list's service; `table` is the big table whose
    rows it pages through."""
    user: str
    table: str
    read: Callable


CASES = {
    "slips, the bureau": Case("drc", "slip", lambda s, **p: listing.list_slips(s, listing.SlipFilter(), **p)),
    "slips, a town": Case("caiyuan", "slip", lambda s, **p: listing.list_slips(s, listing.SlipFilter(), **p)),
    "slips, a supplier": Case("coal-a", "slip", lambda s, **p: listing.list_slips(s, listing.SlipFilter(), **p)),
    "slips, a village": Case("dongguan", "slip", lambda s, **p: listing.list_slips(s, listing.SlipFilter(), **p)),
    "summaries, the bureau": Case("drc", "summary", lambda s, **p: summaries.list_summaries(s, **p)),
    "summaries, a town": Case("caiyuan", "summary", lambda s, **p: summaries.list_summaries(s, **p)),
    "summaries, a supplier": Case("coal-a", "summary", lambda s, **p: summaries.list_summaries(s, **p)),
    "statements, finance": Case("finance", "settlement", lambda s, **p: statements.list_settlements(s, **p)),
    "statements, a supplier": Case("coal-a", "settlement", lambda s, **p: statements.list_settlements(s, **p)),
    "households, the bureau": Case("drc", "household", lambda s, **p: households.list_households(s, **p)),
    "households of a village": Case("dongguan", "household", lambda s, **p: households.list_households(s, **p)),
    "households by name": Case("drc", "household",
                               lambda s, **p: households.list_households(s, sort="name", **p)),
    "registrations by village": Case("drc", "registration",
                                     lambda s, **p: households.list_registrations(s, **p)),
    "registrations by id": Case("drc", "registration",
                                lambda s, **p: households.list_registrations(s, sort="-id", **p)),
    "registrations of a village": Case("dongguan", "registration",
                                       lambda s, **p: households.list_registrations(s, **p)),
    "cases, the bureau": Case("drc", "oversight_case", lambda s, **p: cases.list_cases(s, **p)),
    "cases, a town": Case("caiyuan", "oversight_case", lambda s, **p: cases.list_cases(s, **p)),
    "cases by deadline": Case("drc", "oversight_case", lambda s, **p: cases.list_cases(s, sort="deadline", **p)),
    "cases of a town by deadline": Case("caiyuan", "oversight_case",
                                        lambda s, **p: cases.list_cases(s, sort="deadline", **p)),
    "the audit log": Case("auditor", "audit_entry", lambda s, **p: audit.entries_page(s, **p)),
    "the audit log of a user": Case("auditor", "audit_entry",
                                    lambda s, **p: audit.entries_page(s, audit.LogFilter(who="caiyuan"), **p)),
    "the audit log of an action": Case("auditor", "audit_entry",
                                       lambda s, **p: audit.entries_page(s, action="slip.issued", **p)),
    "the history of a record": Case("auditor", "audit_entry", lambda s, **p: audit.entries_page(
        s, audit.LogFilter(entity="household", entity_id="16"), **p)),
    "a supplier's own audit log": Case("coal-a", "audit_entry", lambda s, **p: audit.entries_page(s, **p)),
}


def _page_statements(engine, call) -> tuple[object, list[tuple[str, object]]]:
    """What `call()` returns, and the page queries it sent (a SELECT with ORDER BY and LIMIT) with their parameters."""
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and " ORDER BY " in statement and " LIMIT " in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, sent


def _id(item) -> int:
    return item.registration.id if isinstance(item, households.RegistrationRow) else item.id


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _explain(session, statement: str, parameters) -> dict:
    raw = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _assert_indexed(session, table: str, statement: str, parameters, what: str) -> set[str]:
    plan = _explain(session, statement, parameters)
    shown = json.dumps(plan, ensure_ascii=False, indent=1)
    nodes = list(_nodes(plan))
    on_table = [n for n in nodes if n.get("Relation Name") == table]
    assert on_table, f"{what}: {table} not read? {shown}"
    assert all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in on_table), \
        f"{what}: {table} read other than by an index range: {shown}"
    assert not [n for n in nodes if "Sort" in n["Node Type"]], f"{what}: the page is sorted: {shown}"
    return {n["Index Name"] for n in on_table}


@pytest.mark.pg_only(reason="PostgreSQL's plans at 50,000 rows")
@pytest.mark.parametrize("name", list(CASES))
def test_each_list_reads_its_first_next_and_a_deep_page_by_an_index(db_url, big, name):
    case = CASES[name]
    with db.new_session(big) as reader:
        actor = reader.execute(select(User).where(User.username == case.user)).scalar_one()
        reader.expunge(actor)
    session = db.new_session(big, scope=Scope.of(actor))
    try:
        first, sent = _page_statements(big, lambda: case.read(session, per_page=50))
        assert len(sent) == 1 and first.items, f"{name}: {sent}"
        assert first.next, f"{name}: one page only; the load should give it many"
        _assert_indexed(session, case.table, *sent[0], f"{name}, page 1")

        second, sent = _page_statements(big, lambda: case.read(session, per_page=50, after=first.next))
        assert second.page == 2 and second.items
        _assert_indexed(session, case.table, *sent[0], f"{name}, page 2 by cursor")

        # Halfway down the list (by number, within MAX_PAGE), then on from there by cursor.
        middle = min(paging.MAX_PAGE, max(2, first.total // 2 // 20))
        half = case.read(session, per_page=20, page=middle)
        assert half.next, f"{name}: page {middle} of {first.total} rows is the last"
        deep, sent = _page_statements(big, lambda: case.read(session, per_page=50, after=half.next))
        assert deep.items and deep.page == middle + 1
        assert {_id(i) for i in deep.items}.isdisjoint({_id(i) for i in first.items})
        _assert_indexed(session, case.table, *sent[0], f"{name}, page {middle + 1} by cursor")
    finally:
        session.close()


# --- the slips of one season among others (migration 0017_h_r19) ------------------------------------------------------

SEASON_ROWS = 50_000  # a season: 100,000 slips in the table

_SLIPS_OF = text("""
    INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id, village_id, status,
                      issued_at, issued_on, head_name, address, category, coal_kg, stoves, amount_fen, subsidy_fen,
                      void_reason, set_aside_reason, id_number_sealed, id_number_hmac, id_number_tail, phone_sealed,
                      phone_hmac, phone_tail)
    SELECT :prefix || lpad(i::text, 8, '0'), 100000 + i, s.supplier_id, r.season_id, r.id, r.household_id,
           v.town_id, r.village_id, 'issued', now(), CAST(:first AS date) + (i % 120), h.head_name, h.address,
           'ordinary', 100, 0, 11000, 3000, '', '', h.id_number_sealed, h.id_number_hmac, h.id_number_tail,
           h.phone_sealed, h.phone_hmac, h.phone_tail
    FROM generate_series(1, :n) AS i, registration r JOIN household h ON h.id = r.household_id
         JOIN village v ON v.id = r.village_id, (SELECT id AS supplier_id FROM supplier ORDER BY id LIMIT 1) AS s
    WHERE r.id = :registration
""")


@pytest.mark.pg_only(reason="PostgreSQL's plans at 100,000 slips")
def test_the_slips_of_one_season_are_a_range_of_its_index(db_url, demo, engine):
    """The bureau's slips list of one season, the active one or the one before it, 50,000 slips each: its first page,
    the next and one deep in the list are each a range of ix_slip_season_on, reading no slip of the other season
    (ix_slip_day, by day alone, read the newer season's slips before every page of the older one)."""
    from tests.factories.settlement import approved_registrations, past_season_with_a_sale

    with db.transaction(engine) as s:
        last, registration, _ = past_season_with_a_sale(s, 100, coal_kg=2000)
        current = approved_registrations(s, "dongguan")[0]
        active = s.execute(text("SELECT id FROM season WHERE is_active")).scalar_one()
        for prefix, reg, first in (("OLD-", registration.id, last.starts_on), ("NEW-", current.id, "2026-11-01")):
            s.execute(_SLIPS_OF, {"prefix": prefix, "registration": reg, "first": str(first), "n": SEASON_ROWS})
        past = last.id
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE slip")
    with db.new_session(engine) as reader:
        actor = reader.execute(select(User).where(User.username == "drc")).scalar_one()
        reader.expunge(actor)
    session = db.new_session(engine, scope=Scope.of(actor))
    try:
        for season_id in (past, active):
            def read(**p):
                return listing.list_slips(session, listing.SlipFilter(season_id=season_id), **p)

            first, sent = _page_statements(engine, lambda: read(per_page=50))
            assert first.next and first.total == paging.COUNT_CAP and first.total_capped
            assert {i.season_id for i in first.items} == {season_id}
            second, sent_next = _page_statements(engine, lambda: read(per_page=50, after=first.next))
            half = read(per_page=100, page=200)
            deep, sent_deep = _page_statements(engine, lambda: read(per_page=50, after=half.next))
            assert deep.page == 201 and {i.season_id for i in deep.items} == {season_id}
            for what, (statement, parameters) in (("page 1", sent[0]), ("page 2", sent_next[0]),
                                                  ("page 201", sent_deep[0])):
                what = f"season {season_id}, {what}"
                used = _assert_indexed(session, "slip", statement, parameters, what)
                plan = _analyze(session, statement, parameters)
                assert used == {"ix_slip_season_on"}, (what, json.dumps(plan, indent=1))
                on_slip = [n for n in _nodes(plan) if n.get("Relation Name") == "slip"]
                # A range of its own season's rows: none read and dropped, and no more read than the page.
                assert all(n.get("Rows Removed by Filter", 0) == 0 for n in on_slip), (what, plan)
                assert all(n["Actual Rows"] <= 51 for n in on_slip), (what, plan)
        # The office's list of copies not yet recorded, of every season, oldest first: the partial index of the
        # issued slips, which took over that list from the index by day alone.
        missing, sent = _page_statements(engine, lambda: scanning.missing_copies(session, user=actor, per_page=50))
        assert missing.next and missing.items[0].season_id == past
        assert _assert_indexed(session, "slip", *sent[0], "copies not recorded") == {"ix_slip_issued_day"}
    finally:
        session.close()


def _analyze(session, statement: str, parameters) -> dict:
    raw = session.connection().exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
                                               parameters).scalar_one()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
