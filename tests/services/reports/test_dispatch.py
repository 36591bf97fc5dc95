"""The dispatch report (调度表): its periods in China time, its figures equal to the detailed lists, its comparison
with the same period of the previous week, and a town's scope."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from subsidy import demo as demo_data
from subsidy.core import clock, db
from subsidy.core.scope import Scope
from subsidy.models import Delivery, Town
from subsidy.registry import households
from subsidy.reports import dispatch
from subsidy.rules.periods import period_of, previous
from subsidy.sales import issuing, listing
from tests.factories import sales as f
from tests.factories.registry import household_input
from tests.factories.settlement import approved_registrations, make_slip, supplier

SUNDAY = date(2026, 11, 29)
MONDAY = SUNDAY + timedelta(days=1)


def test_a_week_runs_monday_to_sunday_and_is_compared_with_the_week_before():
    week = period_of("week", date(2026, 12, 2))  # a Wednesday
    assert (week.first, week.last) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period_of("week", SUNDAY).last == SUNDAY and period_of("week", SUNDAY).first == date(2026, 11, 23)
    assert (previous(week).first, previous(week).last) == (date(2026, 11, 23), date(2026, 11, 29))
    month = period_of("month", date(2026, 1, 15))
    assert (previous(month).first, previous(month).last) == (date(2025, 12, 1), date(2025, 12, 31))
    assert previous(period_of("day", MONDAY)).first == MONDAY - timedelta(days=7)


@pytest.fixture
def on_sunday(engine, frozen):
    """The demo district loaded on Sunday 29 November 2026 (its season covers the days around it)."""
    frozen(datetime.combine(SUNDAY, time(12, 0), tzinfo=clock.CST))
    with db.transaction(engine) as s:
        demo_data.load(s, households_per_village=6)


def _as(engine, username):
    with db.new_session(engine) as s:
        me = f.user(s, username)
    return db.new_session(engine, write=True, scope=Scope.of(me)), me


def _sell_at(engine, moment: datetime, kg: int = 500):
    clock.freeze(moment)
    with db.new_session(engine) as s:
        registration_id = approved_registrations(s, "dongguan")[0].id
        id_number = f.card(s, registration_id)
    s, me = _as(engine, "coal-a")
    with s:
        slip = db.run_in_transaction(s, lambda: issuing.issue_slip(
            s, clerk=me, registration_id=registration_id, id_number=id_number,
            lines=[issuing.LineIn("briquette", kg)]))
    return slip


def _report(engine, username, kind, day):
    s, _ = _as(engine, username)
    with s:
        return dispatch.dispatch(s, kind=kind, day=day)


def _row(report, town_code, engine):
    with db.new_session(engine) as s:
        town_id = s.execute(Town.__table__.select().where(Town.code == town_code)).first().id
    return next(r for r in report.rows if r.town_id == town_id)


def test_a_slip_sold_at_16_30_utc_on_sunday_is_monday_in_china_and_counts_in_the_next_week(engine, on_sunday):
    slip = _sell_at(engine, datetime.combine(SUNDAY, time(16, 30), tzinfo=timezone.utc))
    assert slip.issued_on == MONDAY
    this_week = _report(engine, "drc", "week", MONDAY)
    last_week = _report(engine, "drc", "week", SUNDAY)
    assert (_row(this_week, "caiyuan", engine).now.slips, _row(this_week, "caiyuan", engine).now.coal_kg) == (1, 500)
    assert _row(last_week, "caiyuan", engine).now.slips == 0
    assert this_week.total.before.slips == 0 and this_week.total.now.slips == 1


def test_a_slip_sold_at_15_59_utc_on_sunday_stays_in_the_week_that_ends_that_day(engine, on_sunday):
    _sell_at(engine, datetime.combine(SUNDAY, time(15, 59), tzinfo=timezone.utc))
    assert _report(engine, "drc", "week", SUNDAY).total.now.slips == 1
    # ... and is the "previous week" of the week after
    assert _report(engine, "drc", "week", MONDAY).total.before.slips == 1


def test_a_registration_received_at_16_30_utc_on_sunday_counts_on_monday(engine, on_sunday):
    sunday_before = _row(_report(engine, "drc", "day", SUNDAY), "caiyuan", engine).now.registrations_received
    clock.freeze(datetime.combine(SUNDAY, time(16, 30), tzinfo=timezone.utc))
    s, village = _as(engine, "dongguan")
    with s:
        household = households.register_household(s, village, village.village_id, household_input())
        households.register_purchase(s, village, household.id, 1000, 0)
        s.commit()
    monday = _report(engine, "drc", "day", MONDAY)
    sunday = _report(engine, "drc", "day", SUNDAY)
    assert _row(monday, "caiyuan", engine).now.registrations_received == 1
    assert _row(sunday, "caiyuan", engine).now.registrations_received == sunday_before  # the demo's, that day


def test_the_dispatch_figures_equal_the_detailed_lists(engine, session, demo):
    today = clock.today()
    week = period_of("week", today)
    seller = supplier(session, "coal-a")
    days = [week.first, week.last, week.first - timedelta(days=1), week.last + timedelta(days=1)]
    for n, registration in enumerate(approved_registrations(session, "dongguan")
                                     + approved_registrations(session, "yingxi")):
        make_slip(session, supplier=seller, registration=registration, issued_on=days[n % 4], coal_kg=300 + 7 * n,
                  status="voided" if n % 5 == 4 else "issued")
    session.commit()
    report = _report(engine, "drc", "week", today)
    s, me = _as(engine, "drc")
    with s:
        for row in report.rows:
            listed = [slip for day in range((week.last - week.first).days + 1)
                      for slip in listing.iter_slips(s, listing.SlipFilter(
                          day=week.first + timedelta(days=day), town_id=row.town_id, status="issued"))]
            assert row.now.slips == len(listed)
            assert row.now.coal_kg == sum(x.coal_kg for x in listed)
            assert row.now.stoves == sum(x.stoves for x in listed)
    assert report.total.now.slips == sum(r.now.slips for r in report.rows) > 0
    assert report.total.now.coal_kg == sum(r.now.coal_kg for r in report.rows)


def test_a_town_sees_its_own_town_alone(engine, session, demo):
    seller = supplier(session, "coal-a")
    for code in ("dongguan", "yingxi"):
        make_slip(session, supplier=seller, registration=approved_registrations(session, code)[0],
                  issued_on=clock.today(), coal_kg=1000)
    session.commit()
    report = _report(engine, "caiyuan", "day", clock.today())
    assert [r.town for r in report.rows] == ["财源街道"]
    assert report.total.now.coal_kg == 1000
    assert _report(engine, "drc", "day", clock.today()).total.now.coal_kg == 2000


def test_every_figure_has_one_column_for_the_page_the_print_and_the_sheet():
    assert [c.name for c in dispatch.COLUMNS] == list(dispatch.FIGURES)
    assert [c.name for c in dispatch.COLUMNS if c.tons] == ["coal_kg"]


def test_deliveries_count_in_the_week_they_were_made_and_the_rest_as_undelivered_at_its_end(engine, session, demo):
    week = period_of("week", clock.today())
    seller = supplier(session, "coal-a")
    registrations = approved_registrations(session, "dongguan")[:2] + approved_registrations(session, "xiguan")[:2]
    slips = [make_slip(session, supplier=seller, registration=r, issued_on=week.first - timedelta(days=2),
                       coal_kg=500) for r in registrations]
    make_slip(session, supplier=seller, registration=approved_registrations(session, "yingxi")[0],
              issued_on=week.first, coal_kg=500, status="voided")  # a voided slip is neither
    for slip, on in ((slips[0], week.first - timedelta(days=1)), (slips[1], week.first), (slips[2], week.last)):
        session.add(Delivery(slip_id=slip.id, supplier_id=slip.supplier_id, town_id=slip.town_id,
                             delivered_on=on, receiver="户主"))
    session.commit()
    report = _report(engine, "drc", "week", clock.today())
    caiyuan = _row(report, "caiyuan", engine)
    assert (caiyuan.now.delivered, caiyuan.now.undelivered) == (2, 1)  # slips[3] was never delivered
    assert (caiyuan.before.delivered, caiyuan.before.undelivered) == (1, 3)  # at last week's end, one was delivered
    assert report.total.now.delivered == 2 and report.total.now.undelivered == 1
    assert _report(engine, "caiyuan", "week", clock.today()).total.now.undelivered == 1


def test_the_cases_received_and_closed_equal_the_case_list_by_china_day(engine, on_sunday):
    """Cases opened late on Sunday in China (15:00 UTC), just after its midnight (16:30 UTC) and on Monday, one of
    them closed on Monday: the week from Monday counts what the case list holds for those China days, town by
    town, and the week before what it holds for Sunday."""
    from subsidy.oversight import cases

    utc = timezone.utc
    opened = []
    for moment in (datetime.combine(SUNDAY, time(15, 0), tzinfo=utc),
                   datetime.combine(SUNDAY, time(16, 30), tzinfo=utc), datetime.combine(MONDAY, time(2, 0), tzinfo=utc)):
        clock.freeze(moment)
        s, me = _as(engine, "caiyuan")
        with s:
            opened.append(db.run_in_transaction(s, lambda: cases.open_case(
                s, me, channel="hotline", category="service", description="配送不及时")).id)
    clock.freeze(datetime.combine(MONDAY, time(3, 0), tzinfo=utc))
    s, me = _as(engine, "caiyuan")
    with s:
        db.run_in_transaction(s, lambda: cases.close(s, me, opened[1], finding="true", outcome="已督促配送"))
    this_week, last_week = _report(engine, "drc", "week", MONDAY), _report(engine, "drc", "week", SUNDAY)
    s, _ = _as(engine, "drc")
    with s:
        listed = [c for n in range(1, 5) for c in cases.list_cases(s, page=n, per_page=50).items]
        for report in (this_week, last_week):
            week = report.period
            for row in report.rows:
                mine = [c for c in listed if (c.town_id or None) == row.town_id]
                received = [c for c in mine if week.first <= clock.local(c.created_at).date() <= week.last]
                closed = [c for c in mine if c.closed_at and week.first <= clock.local(c.closed_at).date() <= week.last]
                assert (row.now.cases_received, row.now.cases_closed) == (len(received), len(closed)), row.town_id
    caiyuan = _row(this_week, "caiyuan", engine).now
    assert (caiyuan.cases_received, caiyuan.cases_closed) == (2, 1)
    assert _row(last_week, "caiyuan", engine).now.cases_received >= 1
