"""The days a slip waits for its delivery (subsidy/rules/delivery.py): to the delivery, or to today while it is not
delivered; none for a voided slip never delivered."""

from datetime import date

from subsidy.rules.delivery import days_since_issue

ISSUED = date(2026, 11, 20)


def test_the_days_run_to_the_delivery_or_to_today():
    assert days_since_issue(ISSUED, date(2026, 11, 20), date(2026, 12, 3)) == 0
    assert days_since_issue(ISSUED, date(2026, 11, 24), date(2026, 12, 3)) == 4
    assert days_since_issue(ISSUED, None, date(2026, 12, 3)) == 13


def test_a_voided_slip_waits_only_if_it_was_delivered_before_its_void():
    assert days_since_issue(ISSUED, None, date(2026, 12, 3), voided=True) is None
    assert days_since_issue(ISSUED, date(2026, 11, 21), date(2026, 12, 3), voided=True) == 1
