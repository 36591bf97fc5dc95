"""The periods of the dispatch reports (调度表): a day, a week (Monday to Sunday) or a month, in China dates.

A slip belongs to the China day it was issued on (`slip.issued_on`), so a period is a pair of plain dates; a moment
(a registration received, a case closed) belongs to the period of its China date (subsidy/reports/dispatch.py turns
the dates into UTC bounds with `subsidy.core.clock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from subsidy.core.errors import Refused
from subsidy.rules.months import month_bounds, month_of

KINDS = {"day": "日", "week": "周", "month": "月"}


@dataclass(frozen=True)
class Period:
    kind: str  # day, week, month
    first: date
    last: date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == "day":
            return f"{self.first.isoformat()}"
        if self.kind == "week":
            return f"{self.first.isoformat()} 至 {self.last.isoformat()}（周一至周日）"
        return f"{self.first.year}年{self.first.month}月"

    @property
    def title(self) -> str:
        return {"day": "日调度表", "week": "周调度表", "month": "月调度表"}[self.kind]


def parse_kind(text: str | None) -> str:
    kind = (text or "week").strip()
    if kind not in KINDS:
        raise Refused("周期应为 day（日）、week（周）或 month（月）", field="period")
    return kind


def parse_day(text: str | None, default: date) -> date:
    if not (text or "").strip():
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refused("日期格式应为“年-月-日”，如 2026-12-07", field="date") from None


def period_of(kind: str, day: date) -> Period:
    """The day, the week from its Monday to its Sunday, or the month that contains `day`."""
    if kind == "day":
        return Period(kind, day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    if kind == "month":
        first, last = month_bounds(month_of(day))
        return Period(kind, first, last)
    raise Refused("周期应为 day（日）、week（周）或 month（月）", field="period")


def previous(period: Period) -> Period:
    """What a period is compared with: the same day of the previous week, the previous week, the previous month."""
    if period.kind == "month":
        return period_of("month", period.first - timedelta(days=1))
    return Period(period.kind, period.first - timedelta(days=7), period.last - timedelta(days=7))
