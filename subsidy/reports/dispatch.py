"""The dispatch report (调度表) of a day, a week (Monday to Sunday) or a month, per town and in total: registrations
received and approved, slips issued, coal sold and stoves installed, cases received and closed, against the town's
target (the season's cumulative sales up to the period's last day) and the same period of the previous week (or the
previous month). Seed 002: "日调度、周通报", the monthly report by the 23rd.

The report is a list of row sources (`SOURCES`), each one GROUP BY over the period in the caller's scoped session (a
town sees its own town), giving (town_id, {figure: value}) pairs. Every moment is put in the period of its China date:
a slip by its `issued_on`, a delivery by its `delivered_on`, a registration or a case by its UTC timestamp between the
period's China midnights.

`COLUMNS` is the one list of the table's figure columns, in order, with their headings and units: the page, its print
and the spreadsheet all lay the table out from it (a figure added to `Figures` and `SOURCES` appears in all three).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.models import (
    Case, CaseStatus, Delivery, Registration, RegistrationStatus, Season, Slip, SlipStatus, Town, Village,
)
from subsidy.policy import seasons
from subsidy.rules.periods import Period, period_of, previous


@dataclass
class Figures:
    """One town's figures in one period."""

    registrations_received: int = 0
    registrations_approved: int = 0
    slips: int = 0
    coal_kg: int = 0
    stoves: int = 0
    delivered: int = 0  # standing slips delivered in the period (配送到户)
    undelivered: int = 0  # standing slips issued by the period's last day and not delivered by then
    cases_received: int = 0
    cases_closed: int = 0

    def add(self, other: "Figures") -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


FIGURES = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class Column:
    """One figure column of the table: the `Figures` field, its heading, and whether it is kg shown in tons."""

    name: str
    label: str
    tons: bool = False


COLUMNS = (
    Column("registrations_received", "受理登记(户)"),
    Column("registrations_approved", "审核通过(户)"),
    Column("slips", "销售单(张)"),
    Column("coal_kg", "洁净煤(吨)", tons=True),
    Column("stoves", "炉具(台)"),
    Column("delivered", "配送到户(张)"),
    Column("undelivered", "未配送(张)"),
    Column("cases_received", "受理投诉(件)"),
    Column("cases_closed", "办结投诉(件)"),
)


@dataclass
class DispatchRow:
    town_id: int | None  # None: the district's own row (cases assigned to the bureau), and the total
    town: str
    now: Figures = field(default_factory=Figures)
    before: Figures = field(default_factory=Figures)  # the same period of the previous week (month)
    target_coal_kg: int = 0
    target_stoves: int = 0
    season_coal_kg: int = 0  # cumulative in the season up to the period's last day
    season_stoves: int = 0

    def change(self, name: str) -> int:
        return getattr(self.now, name) - getattr(self.before, name)


@dataclass
class Dispatch:
    period: Period
    before: Period
    season: Season | None
    rows: list[DispatchRow]
    total: DispatchRow
    made_on: date
    notes: list[str]


def utc_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the China days first..last: a moment at 16:30 UTC on a Sunday is 00:30 on Monday."""
    start = datetime.combine(first, time(0), tzinfo=clock.CST)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=clock.CST)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _within(column, period: Period):
    start, end = utc_bounds(period.first, period.last)
    return (column >= start, column < end)


def _registrations_received(session: Session, season_id: int, period: Period):
    for town_id, n in session.execute(
            select(Village.town_id, func.count(Registration.id)).join(Village, Village.id == Registration.village_id)
            .where(Registration.season_id == season_id, *_within(Registration.created_at, period))
            .group_by(Village.town_id)):
        yield town_id, {"registrations_received": int(n)}


def _registrations_approved(session: Session, season_id: int, period: Period):
    for town_id, n in session.execute(
            select(Village.town_id, func.count(Registration.id)).join(Village, Village.id == Registration.village_id)
            .where(Registration.season_id == season_id, Registration.status == RegistrationStatus.APPROVED,
                   *_within(Registration.decided_at, period))
            .group_by(Village.town_id)):
        yield town_id, {"registrations_approved": int(n)}


def _slips(session: Session, season_id: int, period: Period):
    """Slips issued in the period that still stand (a voided slip sold nothing)."""
    for town_id, n, coal, stoves in session.execute(
            select(Slip.town_id, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves))
            .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED,
                   Slip.issued_on >= period.first, Slip.issued_on <= period.last)
            .group_by(Slip.town_id)):
        yield town_id, {"slips": int(n), "coal_kg": int(coal or 0), "stoves": int(stoves or 0)}


def _cases(session: Session, season_id: int, period: Period):
    for town_id, n in session.execute(
            select(Case.town_id, func.count(Case.id))
            .where(Case.season_id == season_id, *_within(Case.created_at, period)).group_by(Case.town_id)):
        yield town_id, {"cases_received": int(n)}
    for town_id, n in session.execute(
            select(Case.town_id, func.count(Case.id))
            .where(Case.season_id == season_id, Case.status == CaseStatus.CLOSED, *_within(Case.closed_at, period))
            .group_by(Case.town_id)):
        yield town_id, {"cases_closed": int(n)}


def _deliveries(session: Session, season_id: int, period: Period):
    """Delivered: standing slips whose delivery is dated in the period. Undelivered: standing slips issued by the
    period's last day without a delivery dated by then (what was still to hand over when the period ended). Read
    from the slips (scoped: a town its own) joined to their deliveries."""
    standing = (Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED)
    for town_id, n in session.execute(
            select(Slip.town_id, func.count(Delivery.id)).join(Delivery, Delivery.slip_id == Slip.id)
            .where(*standing, Delivery.delivered_on >= period.first, Delivery.delivered_on <= period.last)
            .group_by(Slip.town_id)):
        yield town_id, {"delivered": int(n)}
    for town_id, n in session.execute(
            select(Slip.town_id, func.count(Slip.id))
            .outerjoin(Delivery, and_(Delivery.slip_id == Slip.id, Delivery.delivered_on <= period.last))
            .where(*standing, Slip.issued_on <= period.last, Delivery.id.is_(None))
            .group_by(Slip.town_id)):
        yield town_id, {"undelivered": int(n)}


SOURCES = [_registrations_received, _registrations_approved, _slips, _deliveries, _cases]


def season_of_day(session: Session, day: date) -> Season | None:
    """The season whose dates contain `day` (the latest one if two overlap), else the active season."""
    found = session.execute(select(Season).where(Season.starts_on <= day, Season.ends_on >= day)
                            .order_by(Season.starts_on.desc(), Season.id.desc()).limit(1)).scalar_one_or_none()
    return found or seasons.active_season_or_none(session)


DISTRICT_ROW = "区级（未分派街道/镇）"


def dispatch(session: Session, *, kind: str, day: date) -> Dispatch:
    """The dispatch report of the `kind` period (day, week, month) containing the China date `day`."""
    period = period_of(kind, day)
    before = previous(period)
    season = season_of_day(session, period.last)
    rows = {t.id: DispatchRow(t.id, t.name) for t in session.execute(select(Town).order_by(Town.id)).scalars()}
    district = DispatchRow(None, DISTRICT_ROW)
    if season is not None:
        for target in seasons.targets_of(session, season.id).values():
            if target.town_id in rows:
                rows[target.town_id].target_coal_kg = target.coal_kg
                rows[target.town_id].target_stoves = target.stoves
        for which, p in (("now", period), ("before", before)):
            for source in SOURCES:
                for town_id, values in source(session, season.id, p):
                    row = rows.get(town_id, district) if town_id is not None else district
                    figures = getattr(row, which)
                    for name, value in values.items():
                        setattr(figures, name, getattr(figures, name) + value)
        for town_id, coal, stoves in session.execute(
                select(Slip.town_id, func.sum(Slip.coal_kg), func.sum(Slip.stoves))
                .where(Slip.season_id == season.id, Slip.status == SlipStatus.ISSUED, Slip.issued_on <= period.last)
                .group_by(Slip.town_id)):
            if town_id in rows:
                rows[town_id].season_coal_kg, rows[town_id].season_stoves = int(coal or 0), int(stoves or 0)
    listed = list(rows.values())
    if any(getattr(district.now, n) or getattr(district.before, n) for n in FIGURES):
        listed.append(district)
    total = DispatchRow(None, "合计")
    for row in listed:
        total.now.add(row.now)
        total.before.add(row.before)
        for name in ("target_coal_kg", "target_stoves", "season_coal_kg", "season_stoves"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    notes = [
        "销售单按开具日（北京时间）计入，已作废的销售单不计；购买登记按受理时间、审核通过时间计入；投诉举报按受理时间、办结时间计入。",
        f"“上期”为{'上月' if kind == 'month' else '上周同期'}（{before.first.isoformat()} 至 {before.last.isoformat()}）。",
        "完成率为本采暖季截至本期末的累计销售量占目标任务的比例。",
        "配送到户按送达日期计入；未配送为截至本期末已开具、尚未登记送达的销售单（已作废的不计）。",
    ]
    if season is None:
        notes.insert(0, "该日期不在任何采暖季内，也没有进行中的采暖季。")
    return Dispatch(period, before, season, listed, total, clock.today(), notes)
