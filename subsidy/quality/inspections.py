"""Government spot checks (抽检, seeds 001, 002, 004): the bureau records a sample taken from a supplier's batch and the
lab's report, judged by the season's standard for the product (subsidy/policy/quality.py).

A failed spot check, in the same transaction:
- freezes the batch (`batches.freeze`): no sale takes stock from it any more, whichever way it names the batch; a sale
  holding the batch row finishes first (the freeze waits for it), one arriving later is refused;
- opens a case (channel `inspection`, category `quality`) linked to the supplier and the batch;
- leaves the slips already sold from the batch valid (the households bought in good faith), listed by
  `sold_from` and `sold_by_village` so that the towns arrange exchanges (置换, seed 001);
- makes the supplier's other batches of the same source due for a re-test (复检, seed 002: 复检率 100%), listed by
  `awaiting_retest`; a supplier without a passed re-test within the season's `retest_days` is flagged by `overdue`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from subsidy.core import audit, clock, paging
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import (
    PRODUCT_LABELS, Batch, Role, Season, Slip, SlipLine, SlipStatus, SpotCheck, Supplier, Town, Village,
)
from subsidy.oversight import cases
from subsidy.policy import quality
from subsidy.rules.text import clean_text_into
from subsidy.supply import attachments, batches

PER_PAGE = 50
RECORDERS = (Role.DRC,)


@dataclass
class SpotCheckInput:
    sampled_on: date | None = None
    place: str = ""
    sampler: str = ""
    lab: str = ""
    report_no: str = ""
    values: dict = field(default_factory=dict)  # by indicator key (quality.INDICATORS), as typed or sent


def record(session: Session, actor, batch_id: int, data: SpotCheckInput, *,
           report: tuple[str, bytes] | None = None) -> SpotCheck:
    """Record a spot check of `batch_id` (NotFound outside the caller's scope), judged by the standard of the batch's
    season. Refused with every wrong field at once: values out of range or with too many decimals, a sampling date
    in the future or before the batch arrived, a missing lab or report number. Conflict: the same lab report is
    already recorded for the batch. A failure freezes the batch and opens a case (module docstring)."""
    if actor is None or actor.role not in RECORDERS:
        raise NotAllowed("只有区发改局可以登记抽检结果")
    batch = get_or_404(session, Batch, batch_id)
    errors: dict[str, str] = {}
    lab = clean_text_into(errors, data.lab, "lab", 100, label="检测机构", required=True)
    report_no = clean_text_into(errors, data.report_no, "report_no", 64, label="检测报告编号", required=True)
    place = clean_text_into(errors, data.place, "place", 100, label="抽样地点")
    sampler = clean_text_into(errors, data.sampler, "sampler", 64, label="抽样人")
    if data.sampled_on is None:
        errors["sampled_on"] = "请填写抽样日期"
    elif data.sampled_on > clock.today():
        errors["sampled_on"] = "抽样日期不能晚于今天"
    elif batch.arrival_date is not None and data.sampled_on < batch.arrival_date:
        errors["sampled_on"] = f"抽样日期不能早于该批次的到货日期 {batch.arrival_date.isoformat()}"
    measured = quality.read_report(data.values, errors)
    if errors:
        raise Refused("抽检信息有误：" + "；".join(errors.values()), errors=errors)
    standard = quality.standard_for(session, batch.season_id, batch.product)
    if standard is None:
        raise Refused(f"该采暖季尚未设置{PRODUCT_LABELS[batch.product]}的质量标准，无法判定", field="batch_id")
    if session.execute(select(SpotCheck.id).where(SpotCheck.batch_id == batch.id, SpotCheck.lab == lab,
                                                  SpotCheck.report_no == report_no)).first():
        raise Conflict(f"该批次已登记过{lab}的检测报告 {report_no}", field="report_no")
    failed = quality.failures(measured, standard)
    attachment_id = None
    if report is not None:
        attachment_id = attachments.store(session, actor, filename=report[0], data=report[1],
                                          supplier_id=batch.supplier_id, field="report").id
    check = SpotCheck(batch_id=batch.id, supplier_id=batch.supplier_id, season_id=batch.season_id,
                      sampled_on=data.sampled_on, place=place, sampler=sampler, lab=lab, report_no=report_no,
                      passed=not failed, failed_reasons="；".join(failed)[:1000], standard_source=standard.source,
                      report_attachment_id=attachment_id, created_by=actor.id, **measured)
    session.add(check)
    session.flush()
    if failed:
        before = audit.snapshot(batch)
        frozen = batches.freeze(session, batch.id)
        audit.record(session, actor, "batches.frozen", frozen, before=before)
        case = cases.open_case(
            session, actor, channel="inspection", category="quality", supplier_id=batch.supplier_id,
            batch_id=batch.id, season_id=batch.season_id,
            description=(f"抽检不合格：{PRODUCT_LABELS[batch.product]}进货批次 #{batch.id}（供方检测报告 {batch.report_no}），"
                         f"{lab} 检测报告 {report_no}，抽样日期 {data.sampled_on.isoformat()}："
                         + "；".join(failed) + "。该批次已停止销售，剩余库存冻结；已售销售单需安排置换，同源批次需复检。")[:2000])
        check.case_id = case.id
        session.flush()
    audit.record(session, actor, "quality.spot_check_recorded", check)
    return check


def get(session: Session, check_id: int) -> SpotCheck:
    return get_or_404(session, SpotCheck, check_id)


def of_batch(session: Session, batch_id: int) -> list[SpotCheck]:
    """A batch's spot checks, newest sample first (a handful)."""
    return list(session.execute(select(SpotCheck).where(SpotCheck.batch_id == batch_id)
                                .order_by(SpotCheck.sampled_on.desc(), SpotCheck.id.desc())).scalars())


@dataclass(frozen=True)
class CheckRow:
    check: SpotCheck
    supplier_name: str
    product: str
    batch_report_no: str


LIST_SORTS = {"sampled_on": SpotCheck.sampled_on}


def listing(session: Session, *, season_id: int, passed: bool | None = None, supplier_id: int | None = None,
            sort: str | None = None, **page) -> paging.Page:
    """A page of the season's spot checks, newest sample first (paging.fetch's keyword arguments; the order is read
    by ix_spot_check_season_sampled); items are CheckRows."""
    conditions = [SpotCheck.season_id == season_id]
    if passed is not None:
        conditions.append(SpotCheck.passed.is_(passed))
    if supplier_id:
        conditions.append(SpotCheck.supplier_id == supplier_id)
    stmt = (select(SpotCheck, Supplier.name, Batch.product, Batch.report_no)
            .join(Supplier, Supplier.id == SpotCheck.supplier_id).join(Batch, Batch.id == SpotCheck.batch_id)
            .where(*conditions))
    result = paging.fetch(session, stmt, paging.Order.of(sort, LIST_SORTS, "-sampled_on", SpotCheck.id), **page)
    result.items = [CheckRow(*r) for r in result.items]
    return result


# --- the slips already sold from a frozen batch ------------------------------------------------------------------

@dataclass(frozen=True)
class SoldSlip:
    number: str
    issued_on: date
    kg: int  # from this batch
    head_name: str
    town: str
    village: str


def _sold_where(batch_id: int) -> list:
    return [SlipLine.batch_id == batch_id, Slip.status == SlipStatus.ISSUED]


def sold_from(session: Session, batch_id: int, *, page: int = 1, per_page: int = PER_PAGE
              ) -> tuple[list[SoldSlip], int]:
    """The issued slips with coal from the batch (they stay valid), by town, village and number; a page of them and
    the total. Reads slip_line by its batch_id index."""
    total = session.execute(select(func.count()).select_from(SlipLine).join(Slip, Slip.id == SlipLine.slip_id)
                            .where(*_sold_where(batch_id))).scalar_one()
    rows = session.execute(
        select(Slip.number, Slip.issued_on, SlipLine.quantity, Slip.head_name, Town.name, Village.name)
        .select_from(SlipLine).join(Slip, Slip.id == SlipLine.slip_id)
        .join(Village, Village.id == Slip.village_id).join(Town, Town.id == Slip.town_id)
        .where(*_sold_where(batch_id)).order_by(Town.code, Village.code, Slip.number)
        .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return [SoldSlip(*r) for r in rows], total


@dataclass(frozen=True)
class VillageExchange:
    town: str
    village: str
    slips: int
    kg: int


def sold_by_village(session: Session, batch_id: int) -> list[VillageExchange]:
    """Per village, the slips and kg sold from the batch: what each town has to exchange."""
    return [VillageExchange(*r) for r in session.execute(
        select(Town.name, Village.name, func.count(func.distinct(Slip.id)), func.sum(SlipLine.quantity))
        .select_from(SlipLine).join(Slip, Slip.id == SlipLine.slip_id)
        .join(Village, Village.id == Slip.village_id).join(Town, Town.id == Slip.town_id)
        .where(*_sold_where(batch_id)).group_by(Town.code, Town.name, Village.code, Village.name)
        .order_by(Town.code, Village.code))]


# --- re-tests (复检) --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AwaitingRetest:
    batch: Batch
    supplier_name: str
    failed: SpotCheck  # the failure that makes it due
    deadline: date


def _retest_days(session: Session, season_id: int) -> int:
    season = session.get(Season, season_id)
    return season.retest_days if season is not None else 30


def _due(season_id: int, batch, failed_batch) -> list:
    """When the failed spot check SpotCheck (of `failed_batch`) makes `batch` due for a re-test: of the season and
    the same supplier, on another batch of the same source (origin; a failed batch of unknown source makes all of
    the supplier's batches due), with no spot check of `batch` sampled on or after the failure's day."""
    later = aliased(SpotCheck)
    return [SpotCheck.season_id == season_id, SpotCheck.passed.is_(False), SpotCheck.supplier_id == batch.supplier_id, SpotCheck.batch_id != batch.id,
            or_(failed_batch.origin == "", failed_batch.origin == batch.origin),
            ~exists().where(later.batch_id == batch.id, later.sampled_on >= SpotCheck.sampled_on)
            .correlate_except(later)]


def _awaiting_stmt(season_id: int):
    failed_batch = aliased(Batch)
    due = select(SpotCheck.id).select_from(SpotCheck).join(failed_batch, failed_batch.id == SpotCheck.batch_id) \
        .where(*_due(season_id, Batch, failed_batch)).correlate(Batch)
    return (select(Batch, Supplier.name).join(Supplier, Supplier.id == Batch.supplier_id)
            .where(Batch.season_id == season_id, Batch.frozen_at.is_(None), due.exists()))


AWAITING_SORTS = {"id": Batch.id}


def awaiting_retest(session: Session, season_id: int, *, sort: str | None = None, **page) -> paging.Page:
    """A page of the batches due for a re-test (`_due`): unfrozen, in batch order (paging.fetch's keyword
    arguments); items are AwaitingRetest, each naming the earliest failure that makes it due and its deadline."""
    result = paging.fetch(session, _awaiting_stmt(season_id), paging.Order.of(sort, AWAITING_SORTS, "id", Batch.id),
                          **page)
    days = _retest_days(session, season_id)
    ids = [b.id for b, _ in result.items]
    first: dict[int, SpotCheck] = {}
    if ids:  # the failures behind this page's batches: a handful, earliest first
        failed_batch = aliased(Batch)
        for batch_id, check in session.execute(
                select(Batch.id, SpotCheck).select_from(SpotCheck)
                .join(failed_batch, failed_batch.id == SpotCheck.batch_id)
                .join(Batch, and_(*_due(season_id, Batch, failed_batch)))
                .where(Batch.id.in_(ids)).order_by(SpotCheck.sampled_on, SpotCheck.id)).all():
            first.setdefault(batch_id, check)
    result.items = [AwaitingRetest(b, name, first[b.id], first[b.id].sampled_on + timedelta(days=days))
                    for b, name in result.items]
    return result


def awaiting_count(session: Session, season_id: int) -> int:
    """How many batches are due for a re-test (the bureau's home page), capped as a list's count is."""
    return paging.capped_count(session, _awaiting_stmt(season_id))


@dataclass(frozen=True)
class RetestDue:
    supplier: Supplier
    failed: SpotCheck
    deadline: date
    retested_on: date | None  # the first passed re-test within the deadline, if any

    @property
    def overdue(self) -> bool:
        return self.retested_on is None and self.deadline < clock.today()


def retests(session: Session, season_id: int) -> list[RetestDue]:
    """Each failed spot check of the season with its re-test deadline and the first passed spot check of the same
    supplier sampled since (on or after the failure's day, up to the deadline)."""
    days = _retest_days(session, season_id)
    found = []
    for check, supplier in session.execute(
            select(SpotCheck, Supplier).join(Supplier, Supplier.id == SpotCheck.supplier_id)
            .where(SpotCheck.season_id == season_id, SpotCheck.passed.is_(False))
            .order_by(SpotCheck.sampled_on, SpotCheck.id)).all():
        deadline = check.sampled_on + timedelta(days=days)
        retested_on = session.execute(
            select(func.min(SpotCheck.sampled_on)).where(
                SpotCheck.supplier_id == check.supplier_id, SpotCheck.id != check.id, SpotCheck.passed.is_(True),
                SpotCheck.sampled_on >= check.sampled_on, SpotCheck.sampled_on <= deadline)).scalar_one()
        found.append(RetestDue(supplier, check, deadline, retested_on))
    return found


def overdue(session: Session, season_id: int) -> list[RetestDue]:
    """The failures whose supplier had no passed re-test within the deadline: the bureau's home page flags them
    (and the bureau may suspend the supplier)."""
    return [r for r in retests(session, season_id) if r.overdue]
