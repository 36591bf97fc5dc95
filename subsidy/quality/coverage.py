"""Spot-check coverage (抽检覆盖率) per supplier: the one place these figures are counted. Seed 002 asks for 100 %
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

from subsidy.models import Batch, SpotCheck, Supplier


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


def coverage(session: Session, season_id: int, *, until: date | None = None) -> list[Coverage]:
    """One row per supplier with batches in the season (those arrived by `until` when given), by supplier code,
    then the total row (supplier_id None). Spot checks counted are those sampled by `until` as well."""
    checked_on = [SpotCheck.season_id == season_id] + ([SpotCheck.sampled_on <= until] if until else [])
    per_batch = (select(SpotCheck.batch_id, func.count().label("checks"),
                        func.sum(case((SpotCheck.passed, 0), else_=1)).label("fails"))
                 .where(*checked_on).group_by(SpotCheck.batch_id).subquery("per_batch"))
    batch_where = [Batch.season_id == season_id] + ([Batch.arrival_date <= until] if until else [])
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
