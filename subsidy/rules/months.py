"""Months as the review chain and the reports know them: 'YYYY-MM', in China time.

A slip belongs to the China day it was issued on (`slip.issued_on`, see `subsidy.core.clock`), so a month's first and
last days are plain dates.
"""

from __future__ import annotations

import calendar
from datetime import date

from subsidy.core.errors import Refused


def parse_month(text: str) -> str:
    """'YYYY-MM' (also accepts 'YYYY-M'), normalised; Refused otherwise."""
    text = (text or "").strip()
    try:
        year, month = (int(part) for part in text.split("-"))
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError
    except ValueError:
        raise Refused("月份格式应为“年-月”，如 2026-11", field="month") from None
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last (China) day of a 'YYYY-MM' month; slips carry their China date in `issued_on`."""
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_ended(month: str, today: date) -> bool:
    """Whether the 'YYYY-MM' month is over on (China) day `today`: its last day is before today. A month in the
    future has not ended either."""
    return month_bounds(month)[1] < today
