"""The acceptance report (考核验收): its totals equal the settlements to the fen, a draft while the season runs and
frozen when the bureau closes it; a closed season refuses slips and registrations (also racing the close, on
PostgreSQL), and stays readable."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, SubsidyError
from subsidy.models import (
    AcceptanceSnapshot, AuditEntry, Delivery, Season, Settlement, SettlementFund, SettlementTown, Slip,
)
from subsidy.quality import inspections
from subsidy.policy import seasons
from subsidy.registry import households, spreadsheet
from subsidy.reports import acceptance, sheets
from subsidy.sales import issuing
from subsidy.settlement import statements
from tests.factories import sales as f
from tests.factories.registry import household_input, row
from tests.factories.settlement import approved_registrations, make_slip, supplier
from tests.services.quality.test_spot_checks import BAD, check_input
from tests.services.settlement import test_settlement as settlement_tests
from tests.services.settlement.test_settlement import (  # noqa: F401 - `session`: the plain session fixture
    build, do, fresh, session, this_month, through_the_chain)
from tests.services.verification.test_callbacks import (  # noqa: F401 - `submitted`: a submitted summary
    as_sold, call, draw, submitted)


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


def test_each_towns_settled_and_paid_equal_its_statements_town_rows_to_the_fen(engine, session, demo):
    """Two statements (coal-a's paid, stove-a's settled and not paid): each town's settled and paid figures are the
    sums of the statements' town rows, and the district's the sums of the towns'."""
    _sell_awkward(session)
    through_the_chain(engine, session, build(engine))
    for summary in build(engine, "stove-a"):
        settlement_tests.submit(engine, summary.id, "stove-a")
        for reviewer in (settlement_tests.town_code(session, summary), "drc", "finance"):
            settlement_tests.approve(engine, reviewer, summary.id)
    made = {}
    for code in ("coal-a", "stove-a"):
        made[code], _ = do(engine, "finance", lambda s, me: statements.settle(
            s, officer=me, supplier_id=supplier(s, code).id, month=this_month()))
    do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=made["coal-a"].id,
                                                      reference="B-2", paid_on=clock.today()))
    season_id = _season_id(session)
    r = _report(engine, season_id)
    fresh(session)
    by_town = session.execute(select(SettlementTown.town_id, Settlement.status, SettlementTown.subsidy_fen)
                              .join(Settlement, Settlement.id == SettlementTown.settlement_id)
                              .where(Settlement.season_id == season_id)).all()
    assert {t for t, _, _ in by_town} and made["stove-a"].subsidy_fen > 0
    for town in r.towns:
        mine = [(status, fen) for t, status, fen in by_town if t == town["town_id"]]
        assert town["settled_fen"] == sum(fen for _, fen in mine), town["town"]
        assert town["paid_fen"] == sum(fen for status, fen in mine if status == "paid"), town["town"]
    assert r.total["settled_fen"] == sum(t["settled_fen"] for t in r.towns) \
        == made["coal-a"].subsidy_fen + made["stove-a"].subsidy_fen
    assert r.total["paid_fen"] == sum(t["paid_fen"] for t in r.towns) == made["coal-a"].subsidy_fen


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
    with pytest.raises(seasons.SeasonClosed, match="已由区发改局关闭"):
        do(engine, "coal-a", lambda s, me: issuing.issue_slip(
            s, clerk=me, registration_id=r.id, id_number=h.id_number, lines=[issuing.LineIn("briquette", 500)]))
    with pytest.raises(seasons.SeasonClosed, match="已由区发改局关闭"):
        do(engine, "dongguan", lambda s, me: households.register_purchase(
            s, me, households.register_household(s, me, me.village_id, household_input()).id, 1000, 0))
    with pytest.raises(seasons.SeasonClosed, match="已由区发改局关闭"):
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
    assert all(isinstance(x, seasons.SeasonClosed) and "关闭" in x.message for x in refused), sales
    frozen = _report(engine, season_id)
    fresh(session)
    stored = session.execute(select(func.count(Slip.id)).where(Slip.season_id == season_id)).scalar()
    assert stored == len(sales) - len(refused) == frozen.total["slips"]


# --- deliveries, callbacks and spot checks -------------------------------------------------------------------------

def _deliver(session, slip, days_after: int) -> None:
    """A delivery of `slip`, `days_after` its issue (the table as subsidy/delivery writes it)."""
    session.add(Delivery(slip_id=slip.id, supplier_id=slip.supplier_id, town_id=slip.town_id,
                         delivered_on=slip.issued_on + timedelta(days=days_after), receiver="户主"))


def test_the_deliveries_section_counts_delivered_and_undelivered_and_how_soon_per_town(engine, session, demo):
    seller = supplier(session, "coal-a")
    day = clock.today() - timedelta(days=10)
    sold = [make_slip(session, supplier=seller, registration=r, issued_on=day, coal_kg=500)
            for r in (approved_registrations(session, "dongguan")[:2] + approved_registrations(session, "xiguan")[:2])]
    assert len({slip.town_id for slip in sold}) == 1 and len(sold) == 4  # caiyuan's two villages
    voided = make_slip(session, supplier=seller, registration=approved_registrations(session, "yingxi")[0],
                       issued_on=day, coal_kg=500, status="voided")
    for slip, days in zip(sold, (0, 5, 9)):  # the fourth is not delivered
        _deliver(session, slip, days)
    session.commit()
    d = _report(engine, _season_id(session)).deliveries
    town = next(t for t in d["towns"] if t["town_id"] == sold[0].town_id)
    assert (town["slips"], town["delivered"], town["undelivered"]) == (4, 3, 1)
    assert (town["within_3"], town["within_7"], town["later"]) == (1, 1, 1)
    assert d["total"]["slips"] == 4 and voided.town_id not in {t["town_id"] for t in d["towns"]}  # voided: none


def test_the_callbacks_section_counts_samples_answers_and_discrepancies(engine, session, submitted):
    drawn = draw(engine, submitted.id, size=3)
    as_sold(engine, drawn.numbers[0])
    as_sold(engine, drawn.numbers[1], received_kg=0)  # denies the purchase: a discrepancy
    call(engine, drawn.numbers[2], reached=False, attempts=1)  # not reached yet: not done
    c = _report(engine, _season_id(session)).callbacks
    assert c == {"samples": 1, "drawn": 3, "done": 2, "answered": 2, "discrepancies": 1}


def test_the_spot_checks_section_counts_checks_failures_and_coverage(engine, session, demo):
    first, second = f.batch(session), f.batch(session)
    f.batch(session)  # a third batch nobody checked
    drc = f.user(session, "drc")
    inspections.record(session, drc, first.id, check_input())
    inspections.record(session, drc, second.id, check_input(BAD, report_no="CJ-2026-002"))
    session.commit()
    q = _report(engine, _season_id(session)).spot_checks
    assert (q["count"], q["failed"], q["checked"], q["failures"]) == (2, 1, 2, 1)
    assert q["batches"] >= 3 and q["coverage_bp"] == 2 * 10000 // q["batches"]


def test_a_snapshot_frozen_before_the_new_sections_still_opens_as_it_was(engine, session, demo):
    _sell_awkward(session)
    season_id = _season_id(session)
    _close(engine, season_id)
    fresh(session)
    snapshot = session.get(AcceptanceSnapshot, season_id)
    old = json.loads(snapshot.figures)
    for name in ("deliveries", "callbacks", "spot_checks"):
        del old[name]
    old["left_out"] = {"undelivered": "季末未配送到户数（配送模块上线后列入）"}
    old["retired_figure"] = 1  # a key a later version no longer has
    snapshot.figures = json.dumps(old, ensure_ascii=False)
    session.commit()
    r = _report(engine, season_id)
    assert not r.draft and r.deliveries is None and r.callbacks is None and r.spot_checks is None
    assert r.left_out == old["left_out"] and r.total == old["total"]
    name, content = do(engine, "auditor", lambda s, me: sheets.acceptance_xlsx(s, season_id))
    texts = [c.value for row in load_workbook(BytesIO(content)).active.iter_rows() for c in row if c.value]
    assert acceptance.NOT_YET_REPORTED["deliveries"] in texts and "· 季末未配送到户数（配送模块上线后列入）" in texts
