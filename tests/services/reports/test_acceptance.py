"""The acceptance report (考核验收): its totals equal the settlements to the fen, a draft while the season runs and
frozen when the bureau closes it; a closed season refuses slips and registrations (also racing the close, on
PostgreSQL), and stays readable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, Refused, SubsidyError
from subsidy.models import AuditEntry, Season, Settlement, SettlementFund, Slip
from subsidy.policy import seasons
from subsidy.registry import households, spreadsheet
from subsidy.reports import acceptance
from subsidy.sales import issuing
from subsidy.settlement import statements
from tests.factories import sales as f
from tests.factories.registry import household_input, row
from tests.factories.settlement import approved_registrations, make_slip, supplier
from tests.services.settlement.test_settlement import (  # noqa: F401 - `session`: the plain session fixture
    build, do, fresh, session, this_month, through_the_chain)


def _season_id(session) -> int:
    season_id = seasons.active_season(session).id
    session.rollback()
    return season_id


def _report(engine, season_id, username="drc"):
    return do(engine, username, lambda s, me: acceptance.report(s, season_id))


def _close(engine, season_id, username="drc"):
    return do(engine, username, lambda s, me: acceptance.close_season(s, me, season_id))


def _sell_awkward(session):
    """Slips of awkward quantities (fen round per line, the 50/50 split has odd totals) in two towns, a stove, a
    voided slip and a household of each category."""
    seller, stoves = supplier(session, "coal-a"), supplier(session, "stove-a")
    slips = []
    for n, registration in enumerate(approved_registrations(session, "dongguan")
                                     + approved_registrations(session, "yingxi")):
        slips.append(make_slip(session, supplier=seller, registration=registration, issued_on=clock.today(),
                               coal_kg=333 + n * 7, status="voided" if n == 2 else "issued"))
    slips.append(make_slip(session, supplier=stoves, registration=approved_registrations(session, "dongguan")[0],
                           issued_on=clock.today(), stoves=1))
    session.commit()
    return slips


def test_the_acceptance_totals_equal_the_settlements_to_the_fen(engine, session, demo):
    slips = _sell_awkward(session)
    through_the_chain(engine, session, build(engine))
    statement, _ = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=this_month()))
    do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=statement.id, reference="B-1",
                                                      paid_on=clock.today()))
    season_id = _season_id(session)
    r = _report(engine, season_id)
    fresh(session)
    settled = session.execute(select(func.sum(Settlement.subsidy_fen)).where(Settlement.season_id == season_id)).scalar()
    paid = session.execute(select(func.sum(Settlement.subsidy_fen)).where(
        Settlement.season_id == season_id, Settlement.status == "paid")).scalar()
    assert r.total["settled_fen"] == settled == statement.subsidy_fen
    assert r.total["paid_fen"] == paid
    assert sum(x["settled_fen"] for x in r.funds) == settled
    assert sum(x["paid_fen"] for x in r.funds) == paid
    funds = dict(session.execute(select(SettlementFund.fund, SettlementFund.subsidy_fen)
                                 .where(SettlementFund.settlement_id == statement.id)).all())
    assert {x["fund"]: x["settled_fen"] for x in r.funds} == funds
    standing = [s for s in slips if s.status == "issued"]
    assert r.total["subsidy_fen"] == sum(s.subsidy_fen for s in standing)
    assert r.total["slips"] == len(standing) and r.total["voided"] == 1
    assert r.total["coal_kg"] == sum(s.coal_kg for s in standing) and r.total["stoves"] == 1
    district_products = {p["product"]: p for p in r.products if p["town_id"] is None}
    assert district_products["briquette"]["quantity"] == r.total["coal_kg"]
    assert sum(p["subsidy_fen"] for p in district_products.values()) == r.total["subsidy_fen"]
    district_categories = [c for c in r.categories if c["town_id"] is None]
    assert sum(c["subsidy_fen"] for c in district_categories) == r.total["subsidy_fen"]
    assert sum(c["households"] for c in district_categories) == r.total["covered"]
    assert r.draft and r.total["covered"] == len({s.household_id for s in standing})


def test_categories_are_reported_apart(engine, session, demo):
    seller = supplier(session, "coal-a")
    for category in ("five_guarantee", "low_income", "poverty_registered", "ordinary"):
        _, registration = f.household(session, "dongguan", category=category)
        make_slip(session, supplier=seller, registration=registration, issued_on=clock.today(), coal_kg=1000)
    session.commit()
    r = _report(engine, _season_id(session))
    by_category = {c["category"]: c for c in r.categories if c["town_id"] is None}
    assert {k: v["households"] for k, v in by_category.items()} == {
        "five_guarantee": 1, "low_income": 1, "poverty_registered": 1, "ordinary": 1}


def test_closing_freezes_the_report_and_later_changes_do_not_move_it(engine, session, demo):
    _sell_awkward(session)
    season_id = _season_id(session)
    draft = _report(engine, season_id)
    _close(engine, season_id)
    frozen = _report(engine, season_id)
    assert not frozen.draft and frozen.closed_at
    assert frozen.total == draft.total and frozen.categories == draft.categories
    # A correction made afterwards (here straight in the table) changes the rows, not the closed season's report.
    session.execute(update(Slip).where(Slip.season_id == season_id).values(coal_kg=Slip.coal_kg + 1))
    session.commit()
    assert _report(engine, season_id).total == frozen.total
    assert acceptance.compute(fresh(session), session.get(Season, season_id)).total["coal_kg"] \
        == frozen.total["coal_kg"] + frozen.total["slips"]  # the live figures did move


def test_closing_is_the_bureaus_once_and_audited(engine, session, demo):
    season_id = _season_id(session)
    with pytest.raises(NotAllowed):
        _close(engine, season_id, username="finance")
    _close(engine, season_id)
    with pytest.raises(Conflict):
        _close(engine, season_id)
    fresh(session)
    assert session.execute(select(func.count(AuditEntry.id)).where(AuditEntry.action == "season.closed")).scalar() == 1


def test_a_closed_season_refuses_a_slip_and_a_registration_and_stays_readable(engine, session, demo):
    h, r = f.household(session, "dongguan")
    session.commit()
    season_id = _season_id(session)
    _close(engine, season_id)
    with pytest.raises(Refused, match="已由区发改局关闭"):
        do(engine, "coal-a", lambda s, me: issuing.issue_slip(
            s, clerk=me, registration_id=r.id, id_number=h.id_number, lines=[issuing.LineIn("briquette", 500)]))
    with pytest.raises(Refused, match="已由区发改局关闭"):
        do(engine, "dongguan", lambda s, me: households.register_purchase(
            s, me, households.register_household(s, me, me.village_id, household_input()).id, 1000, 0))
    with pytest.raises(Refused, match="已由区发改局关闭"):
        do(engine, "dongguan", lambda s, me: spreadsheet.import_rows(
            s, me, [spreadsheet.HEADER, row()]))
    fresh(session)
    assert session.execute(select(func.count(Slip.id)).where(Slip.season_id == season_id)).scalar() == 0
    assert do(engine, "auditor", lambda s, me: acceptance.report(s, season_id)).season["id"] == season_id


@pytest.mark.pg_only(reason="SQLite runs one write transaction at a time (BEGIN IMMEDIATE): there is no race there")
def test_a_slip_racing_the_close_lands_before_it_or_is_refused(engine, session, demo):
    buyers = [f.household(session, "dongguan", coal_kg=3000) for _ in range(6)]
    session.commit()
    season_id = _season_id(session)
    with db.new_session(engine) as s:
        clerk, bureau = f.user(s, "coal-a"), f.user(s, "drc")
    barrier = threading.Barrier(len(buyers) + 1, timeout=30)

    def sell(i):
        h, r = buyers[i]
        s = db.new_session(engine, write=True)
        try:
            barrier.wait()
            return db.run_in_transaction(s, lambda: issuing.issue_slip(
                s, clerk=clerk, registration_id=r.id, id_number=h.id_number,
                lines=[issuing.LineIn("briquette", 500)])).number
        except SubsidyError as refusal:
            return refusal
        finally:
            s.close()

    def close(_):
        s = db.new_session(engine, write=True)
        try:
            barrier.wait()
            return db.run_in_transaction(s, lambda: acceptance.close_season(s, bureau, season_id))
        finally:
            s.close()

    with ThreadPoolExecutor(len(buyers) + 1) as pool:
        closing = pool.submit(close, 0)
        sales = list(pool.map(sell, range(len(buyers))))
        closing.result()
    refused = [x for x in sales if not isinstance(x, str)]
    assert all(isinstance(x, Refused) and "关闭" in x.message for x in refused), sales
    frozen = _report(engine, season_id)
    fresh(session)
    stored = session.execute(select(func.count(Slip.id)).where(Slip.season_id == season_id)).scalar()
    assert stored == len(sales) - len(refused) == frozen.total["slips"]
