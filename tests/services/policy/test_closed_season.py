"""A closed season takes no more writes (DESIGN.md invariant 9, issue #18 item 2): every write that belongs to a
season answers SeasonClosed (a Conflict: 409) with the reason, and changes nothing. One test per write, each made
possible first (the record in the state the write needs) and then refused once the bureau has closed the season."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subsidy.core import clock
from subsidy.core.errors import Conflict
from subsidy.models import AuditEntry, Batch, Delivery, Notice, Registration, Slip, SlipStatus
from subsidy.policy import seasons
from subsidy.registry import households, spreadsheet
from subsidy.reports import acceptance
from subsidy.delivery import deliveries
from subsidy.sales import issuing, voiding
from subsidy.supply import batches
from tests.factories import sales as f
from tests.factories.registry import household_input, row
from tests.factories.supply import batch_input
from tests.services.settlement.test_settlement import do, fresh, session  # noqa: F401 - `session` fixture

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
    assert isinstance(refusal.value, Conflict)
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
