"""A closed season takes no more writes (DESIGN.md invariant 9, issue #18 item 2): every write that belongs to a
season answers SeasonClosed (a refusal: 422 with the field) with the reason, and changes nothing. One test per write,
each made possible first (the record in the state the write needs) and then refused once the bureau has closed the
season. Last, what a closed season still takes (seasons.SeasonClosed): the callbacks and spot checks that look back at
its slips and batches, and its summaries through settlement to payment."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subsidy.core import clock
from subsidy.core.errors import Refused
from subsidy.models import (
    AuditEntry, Batch, Callback, Delivery, Notice, Registration, SettlementStatus, Slip, SlipStatus, SpotCheck, Summary,
)
from subsidy.policy import seasons
from subsidy.registry import households, spreadsheet
from subsidy.reports import acceptance
from subsidy.delivery import deliveries
from subsidy.sales import issuing, voiding
from subsidy.quality import inspections
from subsidy.settlement import statements
from subsidy.supply import batches
from subsidy.verification import callbacks
from tests.factories import sales as f
from tests.factories.registry import household_input, row
from tests.factories.supply import batch_input
from tests.factories.settlement import supplier
from tests.services.quality import test_spot_checks as spot_tests
from tests.services.settlement.test_settlement import (  # noqa: F401 - `session` fixture
    approve, build, do, fresh, sell, session, submit, this_month, town_code,
)

CLOSED_WORDS = "已由区发改局关闭"


@pytest.fixture
def closing(engine, session, demo):
    """Returns `close()`: the bureau closes the active season (after the test set up what it needs)."""
    season_id = seasons.active_season(session).id
    session.rollback()

    def close() -> int:
        do(engine, "drc", lambda s, me: acceptance.close_season(s, me, season_id))
        return season_id

    return close


def _refused(engine, username, work):
    """`work` as `username` is refused because the season is closed, with the reason, and commits nothing."""
    with pytest.raises(seasons.SeasonClosed, match=CLOSED_WORDS) as refusal:
        do(engine, username, work)
    assert isinstance(refusal.value, Refused)  # 422 over HTTP, with the field
    assert set(refusal.value.errors) <= {"season_id", "registration_id"}
    assert CLOSED_WORDS in next(iter(refusal.value.errors.values()))
    return refusal.value


def _audited(session, action: str) -> int:
    return fresh(session).execute(select(func.count(AuditEntry.id)).where(AuditEntry.action == action)).scalar()


def _registration(session, status: str, village_code: str = "dongguan") -> Registration:
    _, registration = f.household(session, village_code, status=status)
    session.commit()
    return registration


def test_a_closed_season_takes_no_new_registration(engine, session, closing):
    household_id = do(engine, "dongguan", lambda s, me: households.register_household(
        s, me, me.village_id, household_input()).id)
    closing()
    _refused(engine, "dongguan", lambda s, me: households.register_purchase(s, me, household_id, 1000, 0))
    assert fresh(session).execute(select(func.count(Registration.id))
                                  .where(Registration.household_id == household_id)).scalar() == 0


def test_a_closed_season_takes_no_change_of_a_registration(engine, session, closing):
    registration = _registration(session, "registered")
    closing()
    _refused(engine, "dongguan", lambda s, me: households.change_purchase(s, me, registration.id, 500, 0))
    assert fresh(session).get(Registration, registration.id).coal_kg == registration.coal_kg


def test_a_closed_season_takes_no_imported_registrations(engine, session, closing):
    closing()
    _refused(engine, "dongguan", lambda s, me: spreadsheet.import_rows(s, me, [spreadsheet.HEADER, row()]))


def test_a_closed_season_publishes_no_notice(engine, session, closing):
    registration = _registration(session, "registered")
    closing()
    notices = fresh(session).execute(select(func.count(Notice.id))).scalar()
    _refused(engine, "dongguan", lambda s, me: households.publish_notice(s, me, me.village_id))
    assert fresh(session).execute(select(func.count(Notice.id))).scalar() == notices
    assert fresh(session).get(Registration, registration.id).status == "registered"


@pytest.mark.parametrize("decide", [
    lambda s, me, rid: households.approve(s, me, rid),
    lambda s, me, rid: households.reject(s, me, rid, "不符合条件"),
    lambda s, me, rid: households.approve_chosen(s, me, [rid]),
], ids=["approve", "reject", "approve_chosen"])
def test_a_closed_season_decides_no_registration(engine, session, closing, decide):
    registration = _registration(session, "noticed")
    closing()
    _refused(engine, "caiyuan", lambda s, me: decide(s, me, registration.id))
    assert fresh(session).get(Registration, registration.id).status == "noticed"


def test_a_closed_season_approves_nothing_in_bulk(engine, session, closing):
    registration = _registration(session, "noticed")
    closing()
    _refused(engine, "caiyuan", lambda s, me: households.approve_all_due(s, me))
    assert fresh(session).get(Registration, registration.id).status == "noticed"


def _sale(session):
    """(registration, the sale of 500 kg to a new approved household as a `do` work)."""
    household, registration = f.household(session, "dongguan")
    session.commit()
    return registration, lambda s, me: issuing.issue_slip(
        s, clerk=me, registration_id=registration.id, id_number=household.id_number,
        lines=[issuing.LineIn("briquette", 500)])


def test_a_closed_season_issues_no_slip(engine, session, closing):
    registration, sale = _sale(session)
    closing()
    _refused(engine, "coal-a", sale)
    assert fresh(session).execute(select(func.count(Slip.id))
                                  .where(Slip.registration_id == registration.id)).scalar() == 0


def _sold(engine, session) -> Slip:
    return do(engine, "coal-a", _sale(session)[1])


def test_a_closed_season_voids_no_slip(engine, session, closing):
    slip = _sold(engine, session)
    closing()
    _refused(engine, "coal-a", lambda s, me: voiding.void_slip(s, user=me, number=slip.number, reason="开错了"))
    assert fresh(session).get(Slip, slip.id).status == SlipStatus.ISSUED
    assert _audited(session, "slip.void") == 0


def test_a_closed_season_records_no_delivery(engine, session, closing):
    slip = _sold(engine, session)
    closing()
    _refused(engine, "coal-a", lambda s, me: deliveries.record_delivery(
        s, user=me, number=slip.number, delivered_on=clock.today(), receiver="测试户主"))
    assert fresh(session).execute(select(func.count(Delivery.id)).where(Delivery.slip_id == slip.id)).scalar() == 0


def test_a_closed_season_issues_nothing_at_the_door(engine, session, closing):
    household, registration = f.household(session, "dongguan")
    session.commit()
    closing()
    _refused(engine, "coal-a", lambda s, me: deliveries.issue_at_the_door(
        s, clerk=me, registration_id=registration.id, id_number=household.id_number,
        lines=[issuing.LineIn("briquette", 500)], receiver="测试户主"))


def test_a_closed_season_takes_no_new_batch(engine, session, closing):
    before = fresh(session).execute(select(func.count(Batch.id))).scalar()
    closing()
    _refused(engine, "coal-a", lambda s, me: batches.record(s, me, me.supplier_id, batch_input()))
    assert fresh(session).execute(select(func.count(Batch.id))).scalar() == before


def test_an_open_season_still_takes_every_one_of_these_writes(engine, session, demo):
    """The refusals above are the closing's doing: the same writes pass while the season is open."""
    slip = _sold(engine, session)
    do(engine, "coal-a", lambda s, me: deliveries.record_delivery(
        s, user=me, number=slip.number, delivered_on=clock.today(), receiver="测试户主"))
    noticed = _registration(session, "noticed")
    assert do(engine, "caiyuan", lambda s, me: households.approve(s, me, noticed.id)).status == "approved"
    _registration(session, "registered")
    assert do(engine, "dongguan", lambda s, me: households.publish_notice(s, me, me.village_id))[1] >= 1
    do(engine, "coal-a", lambda s, me: batches.record(s, me, me.supplier_id, batch_input()))


# --- what a closed season still takes --------------------------------------------------------------------------------

@pytest.fixture
def submitted(engine, session, closing):
    """coal-a's month in caiyuan, built and submitted before the season closes: its summary id."""
    sell(session, villages=("dongguan",), kg=400)
    (draft,) = build(engine)
    submit(engine, draft.id)
    return draft.id


def test_a_closed_season_still_takes_callbacks_to_its_slips(engine, session, closing, submitted):
    closing()
    drawn = do(engine, "drc", lambda s, me: callbacks.draw_sample(s, user=me, summary_id=submitted, size=2))
    number = drawn.numbers[0]
    slip = fresh(session).execute(select(Slip).where(Slip.number == number)).scalar_one()
    said = dict(reached=True, attempts=1, received_kg=slip.coal_kg, received_stoves=slip.stoves,
                paid_fen=slip.household_pays_fen)
    session.rollback()
    do(engine, "drc", lambda s, me: callbacks.record_callback(s, user=me, slip_number=number, **said))
    assert fresh(session).execute(select(func.count(Callback.id))).scalar() == 1


def test_a_closed_season_still_takes_spot_checks_of_its_batches_and_a_failure_still_freezes(engine, session,
                                                                                            closing):
    batch_id = fresh(session).execute(select(Batch.id).order_by(Batch.id)).scalars().first()
    session.rollback()
    closing()
    check = do(engine, "drc", lambda s, me: inspections.record(s, me, batch_id, spot_tests.check_input(spot_tests.BAD)))
    assert not check.passed and check.case_id is not None
    assert fresh(session).get(Batch, batch_id).frozen_at is not None
    assert session.execute(select(func.count(SpotCheck.id))).scalar() == 1


def test_a_closed_season_still_reviews_settles_and_pays_its_last_month(engine, session, closing, submitted):
    closing()
    code = town_code(fresh(session), fresh(session).get(Summary, submitted))
    for reviewer in (code, "drc", "finance"):
        approve(engine, reviewer, submitted)
    seller_id = supplier(fresh(session), "coal-a").id
    session.rollback()
    statement, created = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=seller_id, month=this_month()))
    assert created
    paid = do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=statement.id,
                                                             reference="BANK-CLOSED-1", paid_on=clock.today()))
    assert paid.status == SettlementStatus.PAID
