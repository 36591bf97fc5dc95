"""Month ends in China time: a sale belongs to the China day it was made on (UTC+8), and so do its month's summary,
the reviewers' month check and the statement.

The clock is frozen on the last day of a month before the demo district loads, so the demo season covers it; each
test then sells at a frozen moment through the real sale (`issuing.issue_slip`), not through a factory that is told
the date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from subsidy import demo as demo_data
from subsidy.core import clock, db
from subsidy.models import Summary
from subsidy.rules import months
from subsidy.sales import issuing
from subsidy.settlement import statements, summaries
from tests.factories.sales import card
from tests.factories.settlement import approved_registrations, supplier
from tests.services.settlement.test_settlement import approve, build, do, submit

NOT_IN_THE_MONTH = "不在本月"
LAST_DAYS = [pytest.param(date(2026, 11, 30), id="november"),
             pytest.param(date(2026, 12, 31), id="december-into-the-new-year")]


@pytest.fixture(params=LAST_DAYS)
def last_day(request, engine, frozen) -> date:
    """The last day of a month, with the demo district loaded on it (its season covers the day and the next)."""
    frozen(datetime.combine(request.param, time(12, 0), tzinfo=clock.CST))
    with db.transaction(engine) as s:
        demo_data.load(s, households_per_village=6)
    return request.param


def sell_at(engine, moment: datetime):
    """One slip of coal-a to an approved dongguan (caiyuan) household, sold at `moment`."""
    clock.freeze(moment)
    with db.new_session(engine) as s:
        registration_id = approved_registrations(s, "dongguan")[0].id
        id_number = card(s, registration_id)
    return do(engine, "coal-a", lambda s, me: issuing.issue_slip(
        s, clerk=me, registration_id=registration_id, id_number=id_number, lines=[issuing.LineIn("briquette", 500)]))


def month_after(day: date) -> str:
    return months.month_of(day + timedelta(days=1))


def flags_seen_by(engine, username, summary_id):
    def work(s, me):
        summary = s.get(Summary, summary_id)
        return {flagged.slip.number: flagged.flags for flagged in summaries.slips_with_flags(s, summary, me)}
    return do(engine, username, work)


@pytest.mark.parametrize("last_day", LAST_DAYS)
def test_the_frozen_clock_is_in_china_time_at_the_edges(frozen, last_day):
    frozen(datetime.combine(last_day, time(23, 59), tzinfo=clock.CST))
    assert clock.today() == last_day
    frozen(datetime.combine(last_day, time(16, 30), tzinfo=timezone.utc))
    assert clock.today() == last_day + timedelta(days=1)


def test_a_sale_at_23_59_china_time_on_the_last_day_belongs_to_that_month(engine, last_day):
    slip = sell_at(engine, datetime.combine(last_day, time(23, 59), tzinfo=clock.CST))
    assert slip.issued_on == last_day
    clock.advance(timedelta(minutes=2))  # the supplier builds the month just after it ended
    (summary,) = build(engine, month=months.month_of(last_day))
    assert summary.month == months.month_of(last_day)
    assert summary.slip_count == 1
    assert summary.coal_kg == 500
    assert build(engine, month=month_after(last_day)) == []


def test_a_sale_at_16_30_utc_on_the_last_day_is_00_30_in_china_and_belongs_to_the_next_month(engine, last_day):
    slip = sell_at(engine, datetime.combine(last_day, time(16, 30), tzinfo=timezone.utc))
    assert slip.issued_on == last_day + timedelta(days=1)
    assert build(engine, month=months.month_of(last_day)) == []
    (summary,) = build(engine, month=month_after(last_day))
    assert summary.month == month_after(last_day)
    assert summary.slip_count == 1


@pytest.mark.parametrize("sold_at, month_of_sale", [
    pytest.param(time(23, 59, tzinfo=clock.CST), months.month_of, id="23h59-china-time"),
    pytest.param(time(16, 30, tzinfo=timezone.utc), month_after, id="16h30-utc"),
])
def test_every_reviewer_finds_a_month_end_sale_in_its_month_and_finance_settles_it_there(
        engine, last_day, sold_at, month_of_sale):
    slip = sell_at(engine, datetime.combine(last_day, sold_at))
    month = month_of_sale(last_day)
    clock.freeze(datetime.combine(last_day + timedelta(days=2), time(9, 0), tzinfo=clock.CST))
    (summary,) = build(engine, month=month)
    submit(engine, summary.id)
    for reviewer in ("caiyuan", "drc", "finance"):
        assert NOT_IN_THE_MONTH not in flags_seen_by(engine, reviewer, summary.id)[slip.number]
        approve(engine, reviewer, summary.id)
    statement, created = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=month))
    assert created
    assert statement.month == month
    assert statement.slip_count == 1
    assert statement.subsidy_fen == slip.subsidy_fen


def test_the_reviewers_month_check_flags_a_slip_dated_outside_the_summarys_month(engine, last_day):
    """The check the sales above pass: a slip set aside on the last day and released joins the next month's summary,
    and there it is flagged as not of that month."""
    slip = sell_at(engine, datetime.combine(last_day, time(23, 59), tzinfo=clock.CST))
    (summary,) = build(engine, month=months.month_of(last_day))
    submit(engine, summary.id)
    do(engine, "caiyuan", lambda s, me: summaries.set_aside(s, reviewer=me, summary_id=summary.id, slip_id=slip.id,
                                                            reason="用户签字不清"))
    do(engine, "coal-a", lambda s, me: summaries.release_slip(s, clerk=me, slip_id=slip.id))
    clock.advance(timedelta(minutes=2))
    (later,) = build(engine, month=month_after(last_day))
    submit(engine, later.id)
    assert NOT_IN_THE_MONTH in flags_seen_by(engine, "caiyuan", later.id)[slip.number]
