"""The season's acceptance report (考核验收, seed 002: 验收报告报市农业农村局) per town and for the district, and closing
a season.

The report is a list of sections, each one function over the season that runs its GROUP BY in the database (never a
season in memory) and fills its figures into the towns' rows or a district-level list: targets, registrations and
households covered, sales, sales by product and by household category (五保, 低保, 建档立卡 apart: seed 001 item 12),
settlements and payments per town and by fund, batches, cases and their outcomes, slips voided. A figure is an
integer (kg, sets, fen, counts), so the whole report is JSON as it stands.

While the season runs the report is a draft, computed at each request. `close_season` computes it once more inside
the closing transaction, under the season row's exclusive lock (which waits for every sale and registration still
writing into the season: policy/seasons.py `lock_open`), and stores it in `acceptance_snapshot`: the report of a
closed season is that snapshot, whatever is corrected later.

Deliveries (delivered, undelivered at the end, how soon: subsidy/delivery), callbacks (samples, slips drawn,
answered, discrepancies: subsidy/verification) and spot checks (count, failed, coverage: subsidy/quality) are
district-level sections like the others. A snapshot frozen before they existed holds `left_out` (their Chinese
placeholders) and none of them: `from_figures` opens it as it was frozen, the new sections None, and the page and the
sheet say those items were not yet reported when the season closed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from subsidy.core import audit, clock
from subsidy.core.errors import Conflict, NotAllowed, NotFound
from subsidy.delivery import deliveries as delivery
from subsidy.policy import seasons
from subsidy.quality import coverage as spot_coverage
from subsidy.models import (
    AcceptanceSnapshot, Batch, Callback, CallbackSample, Case, CaseStatus, Registration, Role, Season, Settlement,
    SettlementFund, SettlementStatus, SettlementTown, Slip, SlipLine, SlipStatus, SpotCheck, Summary, Town,
    TownTarget, Village,
)

# The figures of a town's row, in the order the report shows them.
TOWN_FIGURES = ("target_coal_kg", "target_stoves", "registered", "approved", "covered", "slips", "coal_kg", "stoves",
                "amount_fen", "subsidy_fen", "settled_fen", "paid_fen", "voided", "cases", "cases_closed")

# The sections a snapshot frozen before they were reported lacks, as the page and the sheet name them then.
NOT_YET_REPORTED = {
    "deliveries": "配送到户情况（定稿时尚未统计）",
    "callbacks": "回访抽查情况（定稿时尚未统计）",
    "spot_checks": "政府抽检情况（定稿时尚未统计）",
}


@dataclass
class Acceptance:
    season: dict  # id, code, name, starts_on, ends_on
    draft: bool
    closed_at: str | None
    made_at: str
    towns: list[dict]  # {town_id, town, *TOWN_FIGURES}
    total: dict
    products: list[dict]  # {town_id (None: the district), product, quantity, subsidy_fen}
    categories: list[dict]  # {town_id (None: the district), category, households, coal_kg, stoves, subsidy_fen}
    funds: list[dict]  # {fund, name, settled_fen, paid_fen}
    batches: dict  # {count, passed, failed, quantity_kg, sold_kg}
    case_outcomes: list[dict]  # {status, finding, count}
    previous: dict | None = None  # {season: name, total: {...}} of the season before
    # {towns: [{town_id, town, slips, delivered, undelivered, within_3, within_7, later}], total: {...}}
    deliveries: dict | None = None
    callbacks: dict | None = None  # {samples, drawn, done, answered, discrepancies}
    spot_checks: dict | None = None  # {count, failed, batches, checked, coverage_bp, failures, retested}
    # Only in a snapshot frozen before the three above were reported: their placeholders, as it was frozen.
    left_out: dict = field(default_factory=dict)

    @classmethod
    def from_figures(cls, figures: dict) -> "Acceptance":
        """A report from its stored JSON, whatever version froze it: keys it lacks take their defaults, keys this
        version no longer has are dropped."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in figures.items() if key in known})


def _rows(session: Session) -> dict[int, dict]:
    return {t.id: {"town_id": t.id, "town": t.name, **{name: 0 for name in TOWN_FIGURES}}
            for t in session.execute(select(Town).order_by(Town.id)).scalars()}


def _put(rows: dict[int, dict], town_id, **values) -> None:
    row = rows.get(town_id)
    if row is not None:
        for name, value in values.items():
            row[name] += int(value or 0)


# --- sections over the towns' rows: (session, season_id, rows) ---------------------------------------------------

def _targets(session: Session, season_id: int, rows: dict) -> None:
    for town_id, coal, stoves in session.execute(
            select(TownTarget.town_id, TownTarget.coal_kg, TownTarget.stoves).where(TownTarget.season_id == season_id)):
        _put(rows, town_id, target_coal_kg=coal, target_stoves=stoves)


def _registrations(session: Session, season_id: int, rows: dict) -> None:
    """Registered: every registration received in the season; approved: those approved (a household once each)."""
    for town_id, status, n in session.execute(
            select(Village.town_id, Registration.status, func.count(Registration.id))
            .join(Village, Village.id == Registration.village_id).where(Registration.season_id == season_id)
            .group_by(Village.town_id, Registration.status)):
        _put(rows, town_id, registered=n, **({"approved": n} if status == "approved" else {}))


def _sales(session: Session, season_id: int, rows: dict) -> None:
    """Standing slips and what they sold; voided slips counted apart."""
    for town_id, status, n, coal, stoves, amount, subsidy in session.execute(
            select(Slip.town_id, Slip.status, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves),
                   func.sum(Slip.amount_fen), func.sum(Slip.subsidy_fen))
            .where(Slip.season_id == season_id).group_by(Slip.town_id, Slip.status)):
        if status == SlipStatus.ISSUED:
            _put(rows, town_id, slips=n, coal_kg=coal, stoves=stoves, amount_fen=amount, subsidy_fen=subsidy)
        else:
            _put(rows, town_id, voided=n)


def _covered(session: Session, season_id: int, rows: dict) -> None:
    """Households covered: those with at least one standing slip in the season."""
    for town_id, n in session.execute(
            select(Slip.town_id, func.count(distinct(Slip.household_id)))
            .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED).group_by(Slip.town_id)):
        _put(rows, town_id, covered=n)


def _settled(session: Session, season_id: int, rows: dict) -> None:
    """The subsidy settled with the suppliers per town, and of it what was paid (the statements' town lines)."""
    for town_id, status, subsidy in session.execute(
            select(SettlementTown.town_id, Settlement.status, func.sum(SettlementTown.subsidy_fen))
            .join(Settlement, Settlement.id == SettlementTown.settlement_id).where(Settlement.season_id == season_id)
            .group_by(SettlementTown.town_id, Settlement.status)):
        _put(rows, town_id, settled_fen=subsidy, **({"paid_fen": subsidy} if status == SettlementStatus.PAID else {}))


def _cases(session: Session, season_id: int, rows: dict) -> None:
    for town_id, status, n in session.execute(
            select(Case.town_id, Case.status, func.count(Case.id)).where(Case.season_id == season_id)
            .group_by(Case.town_id, Case.status)):
        _put(rows, town_id if town_id is not None else 0, cases=n,
             **({"cases_closed": n} if status == CaseStatus.CLOSED else {}))


TOWN_SECTIONS = [_targets, _registrations, _sales, _covered, _settled, _cases]


# --- district-level sections: (session, season_id) -> a list or dict --------------------------------------------

def _products(session: Session, season_id: int) -> list[dict]:
    found = [{"town_id": town_id, "product": product, "quantity": int(q or 0), "subsidy_fen": int(s or 0)}
             for town_id, product, q, s in session.execute(
                 select(Slip.town_id, SlipLine.product, func.sum(SlipLine.quantity), func.sum(SlipLine.subsidy_fen))
                 .join(Slip, Slip.id == SlipLine.slip_id)
                 .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED)
                 .group_by(Slip.town_id, SlipLine.product).order_by(Slip.town_id, SlipLine.product))]
    district: dict[str, dict] = {}
    for row in found:
        entry = district.setdefault(row["product"], {"town_id": None, "product": row["product"], "quantity": 0,
                                                     "subsidy_fen": 0})
        entry["quantity"] += row["quantity"]
        entry["subsidy_fen"] += row["subsidy_fen"]
    return found + [district[p] for p in sorted(district)]


def _categories(session: Session, season_id: int) -> list[dict]:
    """By the household's category on the slip. Households are counted per town, and again for the district in a
    statement of its own (a household whose category changed during the season is counted once in either)."""
    sold = (Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED)
    columns = (Slip.category, func.count(distinct(Slip.household_id)), func.sum(Slip.coal_kg),
               func.sum(Slip.stoves), func.sum(Slip.subsidy_fen))
    result = []
    for town_id, category, households, coal, stoves, subsidy in session.execute(
            select(Slip.town_id, *columns).where(*sold).group_by(Slip.town_id, Slip.category)
            .order_by(Slip.town_id, Slip.category)):
        result.append({"town_id": town_id, "category": category, "households": int(households),
                       "coal_kg": int(coal or 0), "stoves": int(stoves or 0), "subsidy_fen": int(subsidy or 0)})
    for category, households, coal, stoves, subsidy in session.execute(
            select(*columns).where(*sold).group_by(Slip.category).order_by(Slip.category)):
        result.append({"town_id": None, "category": category, "households": int(households),
                       "coal_kg": int(coal or 0), "stoves": int(stoves or 0), "subsidy_fen": int(subsidy or 0)})
    return result


def _funds(session: Session, season_id: int) -> list[dict]:
    funds: dict[str, dict] = {}
    for fund, name, status, subsidy in session.execute(
            select(SettlementFund.fund, SettlementFund.name, Settlement.status, func.sum(SettlementFund.subsidy_fen))
            .join(Settlement, Settlement.id == SettlementFund.settlement_id).where(Settlement.season_id == season_id)
            .group_by(SettlementFund.fund, SettlementFund.name, Settlement.status)):
        entry = funds.setdefault(fund, {"fund": fund, "name": name, "settled_fen": 0, "paid_fen": 0})
        entry["settled_fen"] += int(subsidy or 0)
        if status == SettlementStatus.PAID:
            entry["paid_fen"] += int(subsidy or 0)
    return list(funds.values())


def _batches(session: Session, season_id: int) -> dict:
    result = {"count": 0, "passed": 0, "failed": 0, "quantity_kg": 0, "sold_kg": 0}
    for passed, n, quantity, sold in session.execute(
            select(Batch.passed, func.count(Batch.id), func.sum(Batch.quantity_kg), func.sum(Batch.sold_kg))
            .where(Batch.season_id == season_id).group_by(Batch.passed)):
        result["count"] += int(n)
        result["passed" if passed else "failed"] += int(n)
        result["quantity_kg"] += int(quantity or 0)
        result["sold_kg"] += int(sold or 0)
    return result


def _case_outcomes(session: Session, season_id: int) -> list[dict]:
    return [{"status": status, "finding": finding, "count": int(n)} for status, finding, n in session.execute(
        select(Case.status, Case.finding, func.count(Case.id)).where(Case.season_id == season_id)
        .group_by(Case.status, Case.finding).order_by(Case.status, Case.finding))]


def _deliveries(session: Session, season_id: int) -> dict:
    """Per town, the season's standing slips by how soon they were delivered (subsidy/delivery: `timeliness`, its
    one home), and in total; `undelivered` is what was not delivered when the report was made (at the close, for a
    frozen one)."""
    towns: dict[int, dict] = {}
    names = dict(session.execute(select(Town.id, Town.name).order_by(Town.id)).all())
    keys = ("slips", "delivered", "undelivered", "within_3", "within_7", "later")
    for t in delivery.timeliness(session, season_id=season_id):
        row = towns.setdefault(t.town_id, {"town_id": t.town_id, "town": names.get(t.town_id, t.town),
                                           **{k: 0 for k in keys}})
        row["slips"] += t.slips
        row["delivered"] += t.slips - t.not_delivered
        row["undelivered"] += t.not_delivered
        row["within_3"] += t.within_3
        row["within_7"] += t.within_7
        row["later"] += t.later
    listed = [towns[town_id] for town_id in sorted(towns)]
    return {"towns": listed, "total": {"town_id": None, "town": "合计",
                                       **{k: sum(r[k] for r in listed) for k in keys}}}


def _callbacks(session: Session, season_id: int) -> dict:
    """The season's callback samples (回访抽查): samples drawn, slips drawn, callbacks finished (reached, or not
    after three tries), households answered (reached), discrepancies found."""
    samples, drawn = session.execute(
        select(func.count(CallbackSample.id), func.coalesce(func.sum(CallbackSample.size), 0))
        .join(Summary, Summary.id == CallbackSample.summary_id).where(Summary.season_id == season_id)).one()
    done, answered, discrepancies = session.execute(
        select(func.count(Callback.id), func.coalesce(func.sum(case((Callback.reached, 1), else_=0)), 0),
               func.coalesce(func.sum(case((Callback.discrepancy, 1), else_=0)), 0))
        .join(CallbackSample, CallbackSample.id == Callback.sample_id)
        .join(Summary, Summary.id == CallbackSample.summary_id)
        .where(Summary.season_id == season_id, Callback.done)).one()
    return {"samples": int(samples), "drawn": int(drawn), "done": int(done), "answered": int(answered),
            "discrepancies": int(discrepancies)}


def _spot_checks(session: Session, season_id: int) -> dict:
    """The authorities' spot checks (抽检) of the season: how many and how many failed, and the coverage of the
    season's batches (subsidy/quality/coverage.py, its one home): batches, checked, coverage in basis points."""
    count, failed = session.execute(
        select(func.count(SpotCheck.id), func.coalesce(func.sum(case((SpotCheck.passed, 0), else_=1)), 0))
        .where(SpotCheck.season_id == season_id)).one()
    total = spot_coverage.coverage(session, season_id)[-1]
    return {"count": int(count), "failed": int(failed), "batches": total.batches, "checked": total.checked,
            "coverage_bp": total.coverage_bp, "failures": total.failures, "retested": total.retested}


DISTRICT_SECTIONS = {"products": _products, "categories": _categories, "funds": _funds, "batches": _batches,
                     "case_outcomes": _case_outcomes, "deliveries": _deliveries, "callbacks": _callbacks,
                     "spot_checks": _spot_checks}


def _town_rows(session: Session, season_id: int) -> tuple[list[dict], dict]:
    rows = _rows(session)
    rows[0] = {"town_id": None, "town": "区级（未分派街道/镇）", **{name: 0 for name in TOWN_FIGURES}}
    for section in TOWN_SECTIONS:
        section(session, season_id, rows)
    district = rows.pop(0)
    listed = list(rows.values()) + ([district] if any(district[n] for n in TOWN_FIGURES) else [])
    total = {"town_id": None, "town": "合计", **{name: sum(r[name] for r in listed) for name in TOWN_FIGURES}}
    return listed, total


def _season_of(season: Season) -> dict:
    return {"id": season.id, "code": season.code, "name": season.name, "starts_on": season.starts_on.isoformat(),
            "ends_on": season.ends_on.isoformat()}


def compute(session: Session, season: Season) -> Acceptance:
    """The report as the season's rows stand now (a draft while the season is open)."""
    towns, total = _town_rows(session, season.id)
    district = {name: section(session, season.id) for name, section in DISTRICT_SECTIONS.items()}
    before = seasons.previous_season(session, season)
    previous = None
    if before is not None:
        previous = {"season": before.name, "total": _town_rows(session, before.id)[1]}
    return Acceptance(season=_season_of(season), draft=season.closed_at is None,
                      closed_at=season.closed_at.isoformat() if season.closed_at else None,
                      made_at=clock.now().isoformat(), towns=towns, total=total, previous=previous, **district)


def report(session: Session, season_id: int) -> Acceptance:
    """The acceptance report of a season: frozen once the season is closed, a draft before."""
    season = session.get(Season, season_id)
    if season is None:
        raise NotFound()
    if season.closed_at is not None:
        snapshot = session.get(AcceptanceSnapshot, season.id)
        if snapshot is not None:
            return Acceptance.from_figures(json.loads(snapshot.figures))
    return compute(session, season)


def close_season(session: Session, actor, season_id: int) -> Season:
    """Close the season (the bureau's step after its acceptance check): no more registrations or slips in it, every
    record stays readable, and its acceptance report is frozen as computed now. 409 when already closed.

    The season row is locked FOR UPDATE first: that waits for every sale and registration holding its share lock
    (`lock_open`) to commit, and any that comes later waits for this commit and is then refused. So the figures below
    are the season's last ones."""
    if getattr(actor, "role", None) != Role.DRC:
        raise NotAllowed("只有区发改局可以关闭采暖季")
    season = session.execute(select(Season).where(Season.id == season_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if season is None:
        raise NotFound()
    if season.closed_at is not None:
        raise Conflict("该采暖季已经关闭", field="season_id")
    before = audit.snapshot(season)
    season.closed_at, season.closed_by = clock.now(), actor.id
    session.flush()
    figures = compute(session, season)
    session.add(AcceptanceSnapshot(season_id=season.id, figures=json.dumps(asdict(figures), ensure_ascii=False),
                                   created_by=actor.id))
    session.flush()
    audit.record(session, actor, "season.closed", season, before=before)
    return season
