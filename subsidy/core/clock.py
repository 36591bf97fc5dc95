"""The one source of "now", so that tests can freeze time at month ends and lockout expiry.

Datetimes are timezone-aware UTC (SQLModel stores them as UTC). Dates shown to users and the day a sale belongs to
are in China Standard Time (UTC+8, no daylight saving, so a fixed offset is exact).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")
_frozen: datetime | None = None


def now() -> datetime:
    """Aware UTC now (frozen in tests)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc)


def today() -> date:
    """Today in China: a sale at 07:30 Beijing time belongs to that day, not to the UTC day before."""
    return local(now()).date()


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CST)


def freeze(moment: datetime | None) -> None:
    """Freeze `now()` (None unfreezes). Naive moments are taken as UTC. For tests and benchmarks only."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    _frozen = moment


def advance(delta: timedelta) -> None:
    """Move frozen time forward (tests: lockout expiry, notice periods)."""
    global _frozen
    _frozen = (_frozen or datetime.now(timezone.utc)) + delta
