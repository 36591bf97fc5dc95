"""Spot-check coverage (抽检覆盖率) per supplier and per depot: the one place these figures are counted. Seed 002 asks for 100 %
of sellers sampled and 100 % of the failed ones re-tested (复检率); the bureau's report, the monthly report and the
season's acceptance report read `coverage`.

Counted over the season's batches (or those that arrived up to a day, for a month's report):
- `batches`: batches taken in; `checked`: of them, with at least one spot check; `failed`: with a failed one;
- `failures`: failed spot checks, `retested`: of them, followed by another spot check of the same supplier (sampled
  on or after the failure's day, any result);
- the percentages in basis points (integer, rounded down), None where there is nothing to divide by.
Two aggregate statements over the season, whatever its size (indexes: spot_check.season_id, batch.season_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session, aliased

from subsidy.models import Batch, Depot, SpotCheck, Supplier, Town


@dataclass(frozen=True)
class Coverage:
    supplier_id: int | None  # None: the total row
    supplier_name: str
    batches: int
    checked: int
    failed: int
    failures: int
    retested: int

    @property
    def coverage_bp(self) -> int | None:
        return self.checked * 10000 // self.batches if self.batches else None

    @property
    def retest_bp(self) -> int | None:
        return self.retested * 10000 // self.failures if self.failures else None

    @property
    def sampled(self) -> bool:
        """The supplier (the seller the seed counts) has been sampled at least once."""
        return self.checked > 0


def _per_batch(season_id: int, until: date | None):
    """The spot checks counted (the season's, sampled by `until`), and per batch their number and failures."""
    checked_on = [SpotCheck.season_id == season_id] + ([SpotCheck.sampled_on <= until] if until else [])
    per_batch = (select(SpotCheck.batch_id, func.count().label("checks"),
                        func.sum(case((SpotCheck.passed, 0), else_=1)).label("fails"))
                 .where(*checked_on).group_by(SpotCheck.batch_id).subquery("per_batch"))
    batch_where = [Batch.season_id == season_id] + ([Batch.arrival_date <= until] if until else [])
    return checked_on, per_batch, batch_where


def coverage(session: Session, season_id: int, *, until: date | None = None) -> list[Coverage]:
    """One row per supplier with batches in the season (those arrived by `until` when given), by supplier code,
    then the total row (supplier_id None). Spot checks counted are those sampled by `until` as well."""
    checked_on, per_batch, batch_where = _per_batch(season_id, until)
    rows = session.execute(
        select(Supplier.id, Supplier.name, func.count(Batch.id),
               func.count(per_batch.c.batch_id), func.sum(case((per_batch.c.fails > 0, 1), else_=0)))
        .select_from(Batch).join(Supplier, Supplier.id == Batch.supplier_id)
        .outerjoin(per_batch, per_batch.c.batch_id == Batch.id)
        .where(*batch_where).group_by(Supplier.id, Supplier.code, Supplier.name).order_by(Supplier.code)).all()
    later = aliased(SpotCheck)
    followed = exists().where(later.supplier_id == SpotCheck.supplier_id, later.id != SpotCheck.id,
                              later.sampled_on >= SpotCheck.sampled_on,
                              *([later.sampled_on <= until] if until else []))
    retests = dict((s, (int(n), int(r or 0))) for s, n, r in session.execute(
        select(SpotCheck.supplier_id, func.count(), func.sum(case((followed, 1), else_=0)))
        .where(*checked_on, SpotCheck.passed.is_(False)).group_by(SpotCheck.supplier_id)).all())
    result = [Coverage(sid, name, int(n), int(c), int(f or 0), *retests.get(sid, (0, 0)))
              for sid, name, n, c, f in rows]
    total = Coverage(None, "合计", *(sum(getattr(r, k) for r in result)
                                    for k in ("batches", "checked", "failed", "failures", "retested")))
    return result + [total]


@dataclass(frozen=True)
class DepotCoverage:
    supplier_name: str
    depot_id: int | None  # None: the supplier's batches that name no depot
    depot_name: str
    town: str
    batches: int
    checked: int
    failed: int

    @property
    def coverage_bp(self) -> int | None:
        return self.checked * 10000 // self.batches if self.batches else None


def by_depot(session: Session, season_id: int, *, until: date | None = None) -> list[DepotCoverage]:
    """Per supplier and depot (保供点) the season's batches, those with a spot check and those with a failed one,
    counted as `coverage` counts them; batches naming no depot form one row per supplier. Re-tests are the
    supplier's (a re-test may sample any depot), so they stay on the supplier's row of `coverage`."""
    _, per_batch, batch_where = _per_batch(season_id, until)
    rows = session.execute(
        select(Supplier.name, Depot.id, Depot.name, Town.name, func.count(Batch.id), func.count(per_batch.c.batch_id),
               func.sum(case((per_batch.c.fails > 0, 1), else_=0)))
        .select_from(Batch).join(Supplier, Supplier.id == Batch.supplier_id)
        .outerjoin(Depot, Depot.id == Batch.depot_id).outerjoin(Town, Town.id == Depot.town_id)
        .outerjoin(per_batch, per_batch.c.batch_id == Batch.id)
        .where(*batch_where).group_by(Supplier.code, Supplier.name, Depot.id, Depot.name, Town.name)
        .order_by(Supplier.code, Depot.name.is_(None), Depot.name)).all()
    return [DepotCoverage(name, depot_id, depot_name or "未指定保供点", town or "", int(n), int(c), int(f or 0))
            for name, depot_id, depot_name, town, n, c, f in rows]
