"""Progress and money reports. Each figure is one GROUP BY on an indexed column, run through the caller's scoped
session, so a town sees its own town and the district roles see everything without the report saying so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from subsidy.core.scope import scope_of
from subsidy.delivery import deliveries
from subsidy.policy import seasons
from subsidy.quality import coverage as quality_coverage
from subsidy.verification import callbacks as verification
from subsidy.models import (
    Registration, RegistrationStatus, Role, Settlement, SettlementFund, SettlementStatus, Slip, SlipStatus,
    Summary, Supplier, Town, TownTarget, Village,
)
from subsidy.rules.months import month_bounds, month_of, parse_month

REPORT_DUE_DAY = 23  # seed 002: "每月23日前 … 报告当月工作进度和累计进度情况"


@dataclass
class TownProgress:
    town_id: int
    town: str
    target_coal_kg: int = 0
    target_stoves: int = 0
    registered_coal_kg: int = 0
    registered_stoves: int = 0
    registrations: int = 0
    sold_coal_kg: int = 0
    sold_stoves: int = 0
    slips: int = 0
    amount_fen: int = 0
    subsidy_fen: int = 0

    @property
    def coal_percent(self) -> float | None:
        return self.sold_coal_kg * 100 / self.target_coal_kg if self.target_coal_kg else None

    @property
    def stove_percent(self) -> float | None:
        return self.sold_stoves * 100 / self.target_stoves if self.target_stoves else None


def _sold(season_id: int, first: date | None = None, last: date | None = None):
    conditions = [Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED]
    if first is not None:
        conditions.append(Slip.issued_on.between(first, last))
    return and_(*conditions)


def by_village(session: Session) -> bool:
    """Whether the report's rows are villages rather than towns: for a village user, whose scoped session sees its
    own village's registrations and slips only. Its town's row would pair the town's target with one village's
    sales (a completion rate of nothing); the village has no target of its own, so its row has none."""
    scope = scope_of(session)
    return scope is not None and scope.role == Role.VILLAGE


def area_label(session: Session) -> str:
    """The heading of the report's first column."""
    return "村(社区)" if by_village(session) else "街道/镇"


def progress(session: Session, *, month: str | None = None, villages: bool = False,
             season_id: int | None = None) -> list[TownProgress]:
    """Per town in scope: targets, approved registrations, what was sold on issued slips (of `month`, or the whole
    season), completion. Towns without a target and without sales are left out. With `villages` (the pages ask for
    it when `by_village`), per village in scope instead, every one, without targets: `town_id` and `town` are then
    the village's id and name. The API stays per town (CONTRACT.md). `season_id`: a past season (default the
    active one)."""
    season = seasons.season_or_active(session, season_id)
    area, registration_area, slip_area = ((Village, Registration.village_id, Slip.village_id) if villages
                                          else (Town, Village.town_id, Slip.town_id))
    rows: dict[int, TownProgress] = {a.id: TownProgress(a.id, a.name)
                                     for a in session.execute(select(area).order_by(area.id)).scalars()}
    if not villages:
        for town_id, coal, stoves in session.execute(
                select(TownTarget.town_id, TownTarget.coal_kg, TownTarget.stoves)
                .where(TownTarget.season_id == season.id)):
            if town_id in rows:
                rows[town_id].target_coal_kg, rows[town_id].target_stoves = coal, stoves
    for area_id, count, coal, stoves in session.execute(
            select(registration_area, func.count(Registration.id), func.sum(Registration.coal_kg),
                   func.sum(Registration.stoves))
            .join(Village, Village.id == Registration.village_id)
            .where(Registration.season_id == season.id, Registration.status == RegistrationStatus.APPROVED)
            .group_by(registration_area)):
        if area_id in rows:
            r = rows[area_id]
            r.registrations, r.registered_coal_kg, r.registered_stoves = int(count), int(coal or 0), int(stoves or 0)
    first, last = month_bounds(parse_month(month)) if month else (None, None)
    for area_id, count, coal, stoves, amount, subsidy in session.execute(
            select(slip_area, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves),
                   func.sum(Slip.amount_fen), func.sum(Slip.subsidy_fen))
            .where(_sold(season.id, first, last)).group_by(slip_area)):
        if area_id in rows:
            r = rows[area_id]
            r.slips, r.sold_coal_kg, r.sold_stoves = int(count), int(coal or 0), int(stoves or 0)
            r.amount_fen, r.subsidy_fen = int(amount or 0), int(subsidy or 0)
    if villages:
        return list(rows.values())
    return [r for r in rows.values() if r.target_coal_kg or r.target_stoves or r.slips or r.registrations]


@dataclass(frozen=True)
class TownTargetOf:
    """The target of the town a village belongs to: context for a village's report, not the village's target."""

    town: str
    coal_kg: int
    stoves: int


def town_target_of_village(session: Session, season_id: int | None = None) -> TownTargetOf | None:
    """For a village user, its town's season target (None for everyone else, or a town without a target)."""
    if not by_village(session):
        return None
    season = seasons.season_or_active(session, season_id)
    found = session.execute(
        select(Town.name, TownTarget.coal_kg, TownTarget.stoves).join(TownTarget, TownTarget.town_id == Town.id)
        .where(TownTarget.season_id == season.id)).first()  # the scoped Town: the village's own town
    return TownTargetOf(found[0], int(found[1]), int(found[2])) if found else None


@dataclass
class LastSeason:
    """The season before, for the comparison on the progress page: its name and its rows by area id."""

    name: str
    rows: dict[int, TownProgress]
    total: TownProgress


def last_season(session: Session, *, villages: bool = False, season_id: int | None = None) -> LastSeason | None:
    """The same progress (whole season) of the season before `season_id` (or the active one), None without one."""
    before = seasons.previous_season(session, seasons.season_or_active(session, season_id))
    if before is None:
        return None
    rows = progress(session, villages=villages, season_id=before.id)
    return LastSeason(before.name, {r.town_id: r for r in rows}, totals(rows))


def totals(rows: list[TownProgress]) -> TownProgress:
    total = TownProgress(0, "合计")
    for r in rows:
        for name in ("target_coal_kg", "target_stoves", "registered_coal_kg", "registered_stoves", "registrations",
                     "sold_coal_kg", "sold_stoves", "slips", "amount_fen", "subsidy_fen"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return total


@dataclass
class SupplierMonth:
    supplier_id: int
    supplier: str
    month: str
    slips: int = 0
    coal_kg: int = 0
    stoves: int = 0
    amount_fen: int = 0
    subsidy_fen: int = 0


def by_supplier_month(session: Session, season_id: int | None = None) -> list[SupplierMonth]:
    """Sales per supplier and month of the active season. Grouped by day in the database (on the supplier/day
    index, and portable: no date function differs between SQLite and PostgreSQL), folded into months here.
    `season_id`: a past season (default the active one)."""
    season = seasons.season_or_active(session, season_id)
    names = dict(session.execute(select(Supplier.id, Supplier.name).execution_options(unscoped=True)).all())
    result: dict[tuple[int, str], SupplierMonth] = {}
    for supplier_id, day, count, coal, stoves, amount, subsidy in session.execute(
            select(Slip.supplier_id, Slip.issued_on, func.count(Slip.id), func.sum(Slip.coal_kg),
                   func.sum(Slip.stoves), func.sum(Slip.amount_fen), func.sum(Slip.subsidy_fen))
            .where(_sold(season.id)).group_by(Slip.supplier_id, Slip.issued_on)):
        key = (supplier_id, month_of(day))
        row = result.setdefault(key, SupplierMonth(supplier_id, names.get(supplier_id, ""), key[1]))
        row.slips += int(count)
        row.coal_kg += int(coal or 0)
        row.stoves += int(stoves or 0)
        row.amount_fen += int(amount or 0)
        row.subsidy_fen += int(subsidy or 0)
    return sorted(result.values(), key=lambda r: (r.month, r.supplier))


@dataclass
class Money:
    paid_fen: int = 0
    pending_fen: int = 0  # settled, not yet paid
    approved_unsettled_fen: int = 0  # finance-approved summaries not yet in a statement
    in_review_fen: int = 0  # submitted, town- or DRC-approved
    by_fund: list[tuple[str, int, int, int]] = None  # (fund name, paid, pending, paid + pending)


def money(session: Session) -> Money:
    """For finance: what was paid, what is settled and waits for payment, what is still in review, and by fund."""
    result = Money(by_fund=[])
    for status, subsidy in session.execute(select(Settlement.status, func.sum(Settlement.subsidy_fen))
                                           .group_by(Settlement.status)):
        if status == SettlementStatus.PAID:
            result.paid_fen = int(subsidy or 0)
        else:
            result.pending_fen = int(subsidy or 0)
    for status, subsidy in session.execute(
            select(Summary.status, func.sum(Summary.subsidy_fen)).where(Summary.settlement_id.is_(None))
            .group_by(Summary.status)):
        if status == "finance_approved":
            result.approved_unsettled_fen += int(subsidy or 0)
        elif status in ("submitted", "town_approved", "drc_approved"):
            result.in_review_fen += int(subsidy or 0)
    funds: dict[str, list] = {}
    for name, status, subsidy in session.execute(
            select(SettlementFund.name, Settlement.status, func.sum(SettlementFund.subsidy_fen))
            .join(Settlement, Settlement.id == SettlementFund.settlement_id)
            .group_by(SettlementFund.name, Settlement.status)):
        entry = funds.setdefault(name, [name, 0, 0])
        entry[1 if status == SettlementStatus.PAID else 2] += int(subsidy or 0)
    result.by_fund = [(name, paid, pending, paid + pending) for name, paid, pending in funds.values()]
    return result


def due_date(month: str) -> date:
    """The monthly report of `month` is due to the city by the 23rd of that month (seed 002)."""
    first, _ = month_bounds(parse_month(month))
    return first.replace(day=REPORT_DUE_DAY)


@dataclass
class MonthlyReport:
    month: str
    due_on: date
    season_name: str
    month_rows: list[TownProgress]
    season_rows: list[TownProgress]
    month_total: TownProgress
    season_total: TownProgress
    settled_fen: int
    paid_fen: int
    area_label: str = "街道/镇"
    callbacks: verification.Progress | None = None  # the month's callback samples (回访抽查): drawn, done, reached, found
    # Spot-check coverage (抽检覆盖率, seed 002) per supplier, the season's batches and spot checks up to the month's
    # end: sampled against supplied, failed, re-tested; the last row is the total.
    coverage: list[quality_coverage.Coverage] | None = None
    # How soon the month's slips were delivered, per supplier and town (配送到户及时情况).
    timeliness: list[deliveries.Timeliness] = field(default_factory=list)
    # The month's callbacks per supplier and town (its summary's sample): drawn, done, reached, discrepancies.
    callbacks_by: list[verification.SupplierTownFigures] = field(default_factory=list)


def monthly_report(session: Session, month: str, season_id: int | None = None) -> MonthlyReport:
    """The month's report (月报) for the bureau: the month's and the cumulative progress per town, money, the
    month's callbacks, and the spot-check coverage up to the month's end."""
    month = parse_month(month)
    season = seasons.season_or_active(session, season_id)
    villages = by_village(session)
    month_rows = progress(session, month=month, villages=villages, season_id=season.id)
    season_rows = progress(session, villages=villages, season_id=season.id)
    callbacks_by = verification.month_figures_by_supplier_and_town(session, month)
    settled = paid = 0
    for status, subsidy in session.execute(select(Settlement.status, func.sum(Settlement.subsidy_fen))
                                           .where(Settlement.month == month).group_by(Settlement.status)):
        settled += int(subsidy or 0)
        if status == SettlementStatus.PAID:
            paid += int(subsidy or 0)
    return MonthlyReport(month, due_date(month), season.name, month_rows, season_rows, totals(month_rows),
                         totals(season_rows), int(settled or 0), int(paid or 0), area_label(session),
                         verification.month_figures(session, month, callbacks_by),
                         quality_coverage.coverage(session, season.id, until=month_bounds(month)[1]),
                         deliveries.timeliness(session, season_id=season.id, month=month), callbacks_by)
