"""How long a slip waits for its delivery to the household: the days from its issue date to the day it was
delivered, or to today while it is not delivered yet. One rule for the slip's page, the lists, the exports and the
reports' timeliness buckets (subsidy/delivery/deliveries.py, subsidy/sales/listing.py)."""

from __future__ import annotations

from datetime import date


def days_since_issue(issued_on: date, delivered_on: date | None, today: date, *, voided: bool = False) -> int | None:
    """Days from `issued_on` to `delivered_on`, or to `today` while the slip is not delivered (0: the same day).
    None for a voided slip that was never delivered: nobody is waiting for it."""
    if delivered_on is None and voided:
        return None
    return ((delivered_on or today) - issued_on).days
