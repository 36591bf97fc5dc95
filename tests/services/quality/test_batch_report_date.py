"""The date on a batch's test report (报告日期) on a real database (SQLite and PostgreSQL): kept when it lies between
the batch's arrival and today, refused with the reason otherwise, and what the public page calls the day the batch
was tested."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from subsidy.core import clock
from subsidy.core.errors import Refused
from subsidy.models import Batch
from subsidy.reports import public
from tests.factories.supply import add_batch


def test_a_report_dated_between_arrival_and_today_is_kept_and_one_not_given_stays_empty(demo, session):
    today = clock.today()
    arrived = today - timedelta(days=4)
    on_arrival = add_batch(session, report_no="JC-RD-1", arrival_date=arrived, report_date=arrived)
    today_ = add_batch(session, report_no="JC-RD-2", arrival_date=arrived, report_date=today)
    undated = add_batch(session, report_no="JC-RD-3", arrival_date=arrived)
    assert (on_arrival.report_date, today_.report_date, undated.report_date) == (arrived, today, None)


@pytest.mark.parametrize("arrival_days_ago, report_days_ago, reason", [
    (3, -1, "检测报告日期不能晚于今天"),
    (3, 4, "检测报告日期不能早于该批次的到货日期"),
    (None, 1, "检测报告日期不能早于该批次的到货日期"),  # no arrival date given: the batch arrives today
])
def test_a_report_date_in_the_future_or_before_the_intake_is_refused_naming_it_and_nothing_is_written(
        demo, session, arrival_days_ago, report_days_ago, reason):
    today = clock.today()
    before = session.execute(select(func.count()).select_from(Batch)).scalar_one()
    arrival = None if arrival_days_ago is None else today - timedelta(days=arrival_days_ago)
    with pytest.raises(Refused) as refused:
        add_batch(session, report_no="JC-RD-BAD", arrival_date=arrival,
                  report_date=today - timedelta(days=report_days_ago))
    assert reason in refused.value.errors["report_date"]
    assert session.execute(select(func.count()).select_from(Batch)).scalar_one() == before


def test_a_future_arrival_is_named_once_and_not_blamed_on_the_report_date(demo, session):
    today = clock.today()
    with pytest.raises(Refused) as refused:
        add_batch(session, report_no="JC-RD-BAD", arrival_date=today + timedelta(days=2),
                  report_date=today - timedelta(days=1))
    assert set(refused.value.errors) == {"arrival_date"}


def test_the_public_page_dates_a_batch_by_its_report_and_an_undated_one_by_its_arrival(demo, session):
    arrived = clock.today() - timedelta(days=6)
    add_batch(session, report_no="JC-RD-PUB-1", arrival_date=arrived, report_date=arrived + timedelta(days=2))
    add_batch(session, report_no="JC-RD-PUB-2", arrival_date=arrived)
    shown = {b.report_no: b for b in public.disclosure(session).batches}
    dated, undated = shown["JC-RD-PUB-1"], shown["JC-RD-PUB-2"]
    assert (dated.tested_on, dated.report_date) == (arrived + timedelta(days=2), arrived + timedelta(days=2))
    assert (undated.tested_on, undated.report_date) == (arrived, None)
