"""Coal batches (进货批次): each delivery a supplier takes in, with its third-party test report, decided passed or
failed against the quality standard of the season in force (subsidy/policy/quality.py). A failed batch can never be
sold; nor can a frozen one (`frozen_at`, set by `freeze` when a government spot check fails it).

Stock moves only by conditional UPDATEs: a sale takes it with `take_stock_id` (the batch the clerk chose, or the
oldest passed one with enough left: `TAKE_OLDEST`, which the sale on PostgreSQL runs inside its own combined
statement), a void gives it back with `return_stock`. So concurrent sales can never take more than a batch holds (and
the CHECK `sold_kg <= quantity_kg` backs it up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from subsidy.supply import attachments, depots
from subsidy.core import audit, clock, paging
from subsidy.policy import quality, seasons
from subsidy.core.errors import Refused, SubsidyError
from subsidy.models import COAL_PRODUCTS, PRODUCT_LABELS, Batch, Product, Supplier
from subsidy.core.scope import get_or_404
from subsidy.rules.money import tons
from subsidy.rules.text import clean_text_into

PER_PAGE = 50


@dataclass
class BatchInput:
    product: str = ""
    quantity_kg: int | None = None
    producer: str = ""
    origin: str = ""
    arrival_date: date | None = None
    vehicle: str = ""
    report_no: str = ""
    lab: str = ""
    report_date: date | None = None  # the date on the lab's report (报告日期), if given
    depot_id: int | None = None  # the supplier's depot (保供点) it was taken in at, if any
    # The report's values, named as subsidy/policy/quality.py INDICATORS names them, as typed or sent: the four of
    # the standards are required, the rest None (or empty) when the report does not give them.
    volatile_pct: object = None
    sulfur_pct: object = None
    ash_pct: object = None
    calorific_mj_kg: object = None
    moisture_pct: object = None
    mercury_ug_g: object = None
    arsenic_ug_g: object = None
    phosphorus_pct: object = None
    chlorine_pct: object = None
    fluorine_ug_g: object = None
    strength_n: object = None
    drop_pct: object = None


def record(session: Session, actor, supplier_id: int, data: BatchInput, *, report: tuple[str, bytes] | None = None,
           ) -> Batch:
    """The supplier records a batch it took in. Decided at once against the active season's standard for the
    product; a failing batch is kept (the report is evidence) with the reasons, and can never be sold from."""
    errors: dict[str, str] = {}
    season = seasons.lock_open(session, seasons.active_season(session).id)  # no stock into a closed season
    try:
        product = Product(data.product)
        if product not in COAL_PRODUCTS:
            raise ValueError
    except ValueError:
        product = None
        errors["product"] = "请选择煤炭产品（洁净型煤、兰炭或优质无烟煤）"
    if isinstance(data.quantity_kg, bool) or not isinstance(data.quantity_kg, int) or data.quantity_kg <= 0:
        errors["quantity_kg"] = "进货数量应为大于0的整数（千克）"
    elif data.quantity_kg > 100_000_000:
        errors["quantity_kg"] = "进货数量过大，请核对（单位：千克）"
    report_no = clean_text_into(errors, data.report_no, "report_no", 64, label="检测报告编号", required=True)
    lab = clean_text_into(errors, data.lab, "lab", 100, label="检测机构", required=True)
    producer = clean_text_into(errors, data.producer, "producer", 100, label="生产企业")
    origin = clean_text_into(errors, data.origin, "origin", 100, label="产地/来源")
    vehicle = clean_text_into(errors, data.vehicle, "vehicle", 20, label="运输车辆")
    measured = quality.read_report(vars(data), errors)
    depots.check_of_supplier(session, data.depot_id, supplier_id, errors)
    today = clock.today()
    arrival = data.arrival_date or today  # what the batch is recorded with
    if data.arrival_date is not None and data.arrival_date > today:
        errors["arrival_date"] = "到货日期不能晚于今天"
    if data.report_date is not None:
        if data.report_date > today:
            errors["report_date"] = "检测报告日期不能晚于今天"
        elif data.report_date < arrival and "arrival_date" not in errors:
            errors["report_date"] = f"检测报告日期不能早于该批次的到货日期 {arrival.isoformat()}"
    if errors:
        raise Refused("批次信息有误：" + "；".join(errors.values()), errors=errors)
    standard = quality.standard_for(session, season.id, product)
    if standard is None:
        raise Refused(f"本采暖季尚未设置{PRODUCT_LABELS[product]}的质量标准，请联系区发改局", field="product")
    failed = quality.failures(measured, standard)
    attachment_id = None
    if report is not None:
        attachment_id = attachments.store(session, actor, filename=report[0], data=report[1],
                                          supplier_id=supplier_id, field="report").id
    batch = Batch(supplier_id=supplier_id, season_id=season.id, product=str(product), quantity_kg=data.quantity_kg,
                  producer=producer, origin=origin, arrival_date=arrival, vehicle=vehicle,
                  report_no=report_no, lab=lab, report_date=data.report_date, passed=not failed, depot_id=data.depot_id,
                  failed_reasons="；".join(failed)[:400], report_attachment_id=attachment_id,
                  created_by=getattr(actor, "id", None), **measured)
    session.add(batch)
    session.flush()
    audit.record(session, actor, "batches.recorded", batch)
    return batch


def reasons(batch: Batch) -> list[str]:
    return [r for r in (batch.failed_reasons or "").split("；") if r]


def get(session: Session, batch_id: int) -> Batch:
    return get_or_404(session, Batch, batch_id)


@dataclass(frozen=True)
class BatchRow:
    batch: Batch
    supplier_name: str


SORTS = {"id": Batch.id}


def listing(session: Session, *, supplier_id: int | None = None, product: str | None = None,
            passed: bool | None = None, season_id: int | None = None, sort: str | None = None,
            **page) -> paging.Page:
    """A page of the batches in scope (a supplier sees its own), newest first (paging.fetch's keyword arguments);
    items are BatchRows."""
    q = select(Batch, Supplier.name).join(Supplier, Supplier.id == Batch.supplier_id)
    conditions = []
    if supplier_id:
        conditions.append(Batch.supplier_id == supplier_id)
    if product:
        conditions.append(Batch.product == product)
    if passed is not None:
        conditions.append(Batch.passed.is_(passed))
    if season_id:
        conditions.append(Batch.season_id == season_id)
    result = paging.fetch(session, q.where(*conditions), paging.Order.of(sort, SORTS, "-id", Batch.id), **page)
    result.items = [BatchRow(*r) for r in result.items]
    return result


# --- Stock ---------------------------------------------------------------------------------------------------------

def _take(session: Session, batch_id: int, supplier_id: int, product: str, kg: int) -> bool:
    """One conditional UPDATE: takes `kg` only if the batch is this supplier's, passed, and still holds them."""
    result = session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.supplier_id == supplier_id, Batch.product == product,
                            Batch.passed.is_(True), Batch.frozen_at.is_(None), Batch.sold_kg + kg <= Batch.quantity_kg)
        .values(sold_kg=Batch.sold_kg + kg).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _fresh(session: Session, batch_id: int) -> Batch:
    return session.execute(select(Batch).where(Batch.id == batch_id)
                           .execution_options(unscoped=True, populate_existing=True)).scalar_one()


_batch_t = Batch.__table__


def with_stock(*columns, any_product: bool = False):
    """The supplier's passed, unfrozen batches of a product and season that hold `want_kg`, oldest first (arrival date, then
    id): the order stock is sold in. Bound parameters want_supplier_id, want_product (unless `any_product`),
    want_season_id, want_kg."""
    conditions = [_batch_t.c.supplier_id == bindparam("want_supplier_id"),
                  _batch_t.c.season_id == bindparam("want_season_id"), _batch_t.c.passed.is_(True),
                  _batch_t.c.frozen_at.is_(None), _batch_t.c.quantity_kg - _batch_t.c.sold_kg >= bindparam("want_kg")]
    if not any_product:
        conditions.append(_batch_t.c.product == bindparam("want_product"))
    return select(*columns).where(*conditions).order_by(_batch_t.c.arrival_date, _batch_t.c.id)


_AVAILABLE = with_stock(Batch, any_product=True).execution_options(unscoped=True)


def available(session: Session, *, supplier_id: int, season_id: int) -> list[Batch]:
    """The supplier's passed batches of the season with any stock left, every product, in the order stock is sold
    in (the counter's batch choice)."""
    return list(session.execute(_AVAILABLE, {"want_supplier_id": supplier_id, "want_season_id": season_id,
                                             "want_kg": 1}).scalars())


def refusal(batch, *, supplier_id: int, product: str, season_id: int, kg: int) -> str | None:
    """Why `kg` of `product` cannot be sold from `batch` by this supplier in this season, in the clerk's words; None
    when they can. `batch` is anything with a batch's columns (a Batch, a row), or None when the id the clerk gave
    names no batch. Pure: the caller reads the batch, so the preview and the sale refuse in the same words."""
    if batch is None or batch.supplier_id != supplier_id:
        return "进货批次不存在或不属于本企业"
    if batch.product != str(product) or batch.season_id != season_id:
        return f"该进货批次不是本采暖季的{PRODUCT_LABELS.get(product, product)}"
    if not batch.passed:
        return f"进货批次（检测报告 {batch.report_no}）检验不合格，不能销售"
    if batch.frozen_at is not None:
        return f"进货批次（检测报告 {batch.report_no}）政府抽检不合格，已停止销售，剩余库存已冻结"
    left = batch.quantity_kg - batch.sold_kg
    if left < kg:
        return f"进货批次（检测报告 {batch.report_no}）库存不足，剩余 {tons(left)} 吨"
    return None


_CANDIDATES = with_stock(_batch_t.c.id)
# The oldest of them, decremented in the same statement: one round trip for the common sale. The conditions on sold_kg
# and frozen_at are checked again on the locked row (PostgreSQL re-evaluates the outer WHERE after waiting, not the
# subquery; SQLite runs writers one at a time), so it never takes more than a batch holds, nor from a batch a spot
# check froze while the sale waited.
TAKE_OLDEST = (
    update(_batch_t)
    .where(_batch_t.c.id == _CANDIDATES.limit(1).scalar_subquery(), _batch_t.c.frozen_at.is_(None),
           _batch_t.c.sold_kg + bindparam("want_kg") <= _batch_t.c.quantity_kg)
    .values(sold_kg=_batch_t.c.sold_kg + bindparam("want_kg"))
    .returning(_batch_t.c.id))


def take_stock(session: Session, *, supplier_id: int, product: str, batch_id: int | None, kg: int,
               season_id: int | None = None) -> Batch:
    """Take `kg` of `product` from stock for a sale and return the batch it came from (with `sold_kg` updated).

    With `batch_id`: that batch, unless `refusal` names a reason (another supplier's, another product or season,
    failed, short of stock). Without: the oldest passed batch (arrival date, then id) of this supplier, product and season (the active season
    unless `season_id` is given) that still holds `kg`. Refuses (`Refused`) in Chinese otherwise. Safe under
    concurrency: the decrement is a conditional UPDATE, so two sales cannot both take the last kilograms.
    """
    taken = take_stock_id(session, supplier_id=supplier_id, product=product, batch_id=batch_id, kg=kg,
                          season_id=season_id)
    return _fresh(session, taken)


def take_stock_id(session: Session, *, supplier_id: int, product: str, batch_id: int | None, kg: int,
                  season_id: int | None = None) -> int:
    """`take_stock`, returning only the batch's id (the sale's hot path reads nothing more)."""
    product = str(product)
    if isinstance(kg, bool) or not isinstance(kg, int) or kg <= 0:
        raise Refused("销售数量应为大于0的整数（千克）", field="quantity")
    label = PRODUCT_LABELS.get(product, product)
    if season_id is None:
        season_id = seasons.active_season(session).id
    if batch_id is not None:
        facts = {"supplier_id": supplier_id, "product": product, "season_id": season_id, "kg": kg}
        batch = session.execute(select(Batch).where(Batch.id == batch_id).execution_options(unscoped=True)
                                ).scalar_one_or_none()
        if reason := refusal(batch, **facts):
            raise Refused(reason, field="batch_id")
        if not _take(session, batch_id, supplier_id, product, kg):  # a concurrent sale took the stock meanwhile
            raise Refused(refusal(_fresh(session, batch_id), **facts) or "进货批次库存不足", field="batch_id")
        return batch_id
    params = {"want_supplier_id": supplier_id, "want_product": product, "want_season_id": season_id, "want_kg": kg}
    taken = session.connection().execute(TAKE_OLDEST, params).scalar_one_or_none()
    if taken is not None:
        return taken
    # The oldest batch ran short between choosing and locking it (a concurrent sale): try each candidate in turn.
    candidates = session.connection().execute(_CANDIDATES, params).scalars().all()
    for candidate in candidates:
        if _take(session, candidate, supplier_id, product, kg):
            return candidate
    raise Refused(f"本企业没有库存足够（{kg} 千克）的合格{label}批次，请先登记进货批次", field="quantity")


def return_stock(session: Session, batch_id: int, kg: int) -> Batch:
    """Give `kg` back to a batch when a slip is voided."""
    if isinstance(kg, bool) or not isinstance(kg, int) or kg <= 0:
        raise Refused("退回数量应为大于0的整数（千克）")
    result = session.execute(update(Batch).where(Batch.id == batch_id, Batch.sold_kg >= kg)
                             .values(sold_kg=Batch.sold_kg - kg).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Refused(f"批次{batch_id}的已售数量少于退回数量 {kg} 千克，无法退回")
    return _fresh(session, batch_id)


def freeze(session: Session, batch_id: int) -> Batch:
    """Stop all further sales from a batch (a failed spot check): one UPDATE of the batch row, which waits for a sale
    holding the row (its stock decrement) to commit, and makes every later sale's decrement find nothing (their
    conditions require frozen_at NULL). So a concurrent sale either completed before the freeze or is refused; the
    stock left at that moment is what stays frozen. Freezing a frozen batch changes nothing."""
    session.execute(update(Batch).where(Batch.id == batch_id, Batch.frozen_at.is_(None))
                    .values(frozen_at=clock.now()).execution_options(synchronize_session=False))
    return _fresh(session, batch_id)
