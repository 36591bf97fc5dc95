"""Coal batches (进货批次): each delivery a supplier takes in, with its third-party test report, decided passed or
failed against the quality standard of the season in force (subsidy/policy/quality.py). A failed batch can never be sold.

Stock moves only through `take_stock` (a sale) and `return_stock` (a void), both single conditional UPDATEs, so that
concurrent sales can never take more than a batch holds (and the CHECK `sold_kg <= quantity_kg` backs it up).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from subsidy.supply import attachments
from subsidy.core import audit, clock
from subsidy.policy import quality, seasons
from subsidy.core.errors import SubsidyError
from subsidy.models import COAL_PRODUCTS, PRODUCT_LABELS, Batch, Product, Supplier
from subsidy.core.scope import get_or_404
from subsidy.rules.text import clean_text_into

PER_PAGE = 50
_DECIMAL = re.compile(r"([0-9]{1,6})(?:\.([0-9]+))?")


def parse_scaled(text, places: int, label: str, field: str) -> int:
    """A non-negative decimal with at most `places` decimals, as an int scaled by 10**places (exact, no floats).
    Accepts numbers from JSON too (a float is read through its shortest decimal repr)."""
    if isinstance(text, bool) or text is None:
        raise SubsidyError(f"请填写{label}", field=field)
    if isinstance(text, int):
        return text * 10**places
    if isinstance(text, float):
        text = repr(text)
    s = unicodedata.normalize("NFKC", str(text)).strip().rstrip("%")
    if not s:
        raise SubsidyError(f"请填写{label}", field=field)
    m = _DECIMAL.fullmatch(s)
    if m is None:
        raise SubsidyError(f"{label}应为数字，例如 0.45", field=field)
    frac = (m.group(2) or "").rstrip("0") if len(m.group(2) or "") > places else (m.group(2) or "")
    if len(frac) > places:
        raise SubsidyError(f"{label}最多保留{places}位小数", field=field)
    return int(m.group(1)) * 10**places + int(frac.ljust(places, "0") or 0)


def parse_percent(text, label: str, field: str) -> int:
    """'0.45' → 45 (hundredths of a percent); at most 2 decimals; 0 to 100%."""
    value = parse_scaled(text, 2, label, field)
    if value > 10000:
        raise SubsidyError(f"{label}不能超过100%", field=field)
    return value


def parse_mj(text, field: str = "calorific_mj_kg") -> int:
    """'24.5' MJ/kg → 24500 kJ/kg; at most 3 decimals (whole kJ)."""
    value = parse_scaled(text, 3, "发热量", field)
    if value > 40000:
        raise SubsidyError("发热量不应超过 40 MJ/kg，请核对单位（MJ/kg）", field=field)
    return value


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
    volatile_pct: object = None
    sulfur_pct: object = None
    ash_pct: object = None
    calorific_mj_kg: object = None


def record(session: Session, actor, supplier_id: int, data: BatchInput, *, report: tuple[str, bytes] | None = None,
           ) -> Batch:
    """The supplier records a batch it took in. Decided at once against the active season's standard for the
    product; a failing batch is kept (the report is evidence) with the reasons, and can never be sold from."""
    errors: dict[str, str] = {}
    season = seasons.active_season(session)
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
    measured = {}
    for key, column, label in (("volatile_pct", "volatile_cpct", "挥发分"), ("sulfur_pct", "sulfur_cpct", "全硫"),
                               ("ash_pct", "ash_cpct", "灰分")):
        try:
            measured[column] = parse_percent(getattr(data, key), label, key)
        except SubsidyError as error:
            errors[key] = error.message
    try:
        measured["calorific_kj_kg"] = parse_mj(data.calorific_mj_kg)
    except SubsidyError as error:
        errors["calorific_mj_kg"] = error.message
    if data.arrival_date is not None and data.arrival_date > clock.today():
        errors["arrival_date"] = "到货日期不能晚于今天"
    if errors:
        raise SubsidyError("批次信息有误：" + "；".join(errors.values()), errors=errors)
    standard = quality.standard_for(session, season.id, product)
    if standard is None:
        raise SubsidyError(f"本采暖季尚未设置{PRODUCT_LABELS[product]}的质量标准，请联系区发改局", field="product")
    failed = quality.failures(quality.Measured(**measured), standard)
    attachment_id = None
    if report is not None:
        attachment_id = attachments.store(session, actor, filename=report[0], data=report[1],
                                          supplier_id=supplier_id, field="report").id
    batch = Batch(supplier_id=supplier_id, season_id=season.id, product=str(product), quantity_kg=data.quantity_kg,
                  producer=producer, origin=origin, arrival_date=data.arrival_date or clock.today(), vehicle=vehicle,
                  report_no=report_no, lab=lab, passed=not failed,
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


def listing(session: Session, *, supplier_id: int | None = None, product: str | None = None,
            passed: bool | None = None, season_id: int | None = None, page: int = 1,
            per_page: int = PER_PAGE) -> tuple[list[BatchRow], int]:
    """Batches in scope (a supplier sees its own), newest first."""
    q = select(Batch, Supplier.name).join(Supplier, Supplier.id == Batch.supplier_id)
    count = select(func.count()).select_from(Batch)
    conditions = []
    if supplier_id:
        conditions.append(Batch.supplier_id == supplier_id)
    if product:
        conditions.append(Batch.product == product)
    if passed is not None:
        conditions.append(Batch.passed.is_(passed))
    if season_id:
        conditions.append(Batch.season_id == season_id)
    q, count = q.where(*conditions), count.where(*conditions)
    total = session.execute(count).scalar_one()
    rows = session.execute(q.order_by(Batch.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return [BatchRow(*r) for r in rows], total


# --- Stock ---------------------------------------------------------------------------------------------------------

def _take(session: Session, batch_id: int, supplier_id: int, product: str, kg: int) -> bool:
    """One conditional UPDATE: takes `kg` only if the batch is this supplier's, passed, and still holds them."""
    result = session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.supplier_id == supplier_id, Batch.product == product,
                            Batch.passed.is_(True), Batch.sold_kg + kg <= Batch.quantity_kg)
        .values(sold_kg=Batch.sold_kg + kg).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _fresh(session: Session, batch_id: int) -> Batch:
    return session.execute(select(Batch).where(Batch.id == batch_id)
                           .execution_options(unscoped=True, populate_existing=True)).scalar_one()


_batch_t = Batch.__table__


def with_stock(*columns):
    """The supplier's passed batches of a product and season that hold `want_kg`, oldest first (arrival date, then
    id): the order stock is sold in. Bound parameters want_supplier_id, want_product, want_season_id, want_kg."""
    return (select(*columns)
            .where(_batch_t.c.supplier_id == bindparam("want_supplier_id"),
                   _batch_t.c.product == bindparam("want_product"),
                   _batch_t.c.season_id == bindparam("want_season_id"), _batch_t.c.passed.is_(True),
                   _batch_t.c.quantity_kg - _batch_t.c.sold_kg >= bindparam("want_kg"))
            .order_by(_batch_t.c.arrival_date, _batch_t.c.id))


_CANDIDATES = with_stock(_batch_t.c.id)
# The oldest of them, decremented in the same statement: one round trip for the common sale. The condition on sold_kg
# is checked again on the locked row (PostgreSQL re-evaluates it after waiting; SQLite runs writers one at a time), so
# it never takes more than a batch holds.
TAKE_OLDEST = (
    update(_batch_t)
    .where(_batch_t.c.id == _CANDIDATES.limit(1).scalar_subquery(),
           _batch_t.c.sold_kg + bindparam("want_kg") <= _batch_t.c.quantity_kg)
    .values(sold_kg=_batch_t.c.sold_kg + bindparam("want_kg"))
    .returning(_batch_t.c.id))


def take_stock(session: Session, *, supplier_id: int, product: str, batch_id: int | None, kg: int,
               season_id: int | None = None) -> Batch:
    """Take `kg` of `product` from stock for a sale and return the batch it came from (with `sold_kg` updated).

    With `batch_id`: that batch, which must be this supplier's, of this product, passed, with enough stock left.
    Without: the oldest passed batch (arrival date, then id) of this supplier, product and season (the active season
    unless `season_id` is given) that still holds `kg`. Refuses with a SubsidyError in Chinese otherwise. Safe under
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
        raise SubsidyError("销售数量应为大于0的整数（千克）", field="quantity")
    label = PRODUCT_LABELS.get(product, product)
    if batch_id is not None:
        batch = session.execute(select(Batch).where(Batch.id == batch_id).execution_options(unscoped=True)
                                ).scalar_one_or_none()
        if batch is None or batch.supplier_id != supplier_id:
            raise SubsidyError("该批次不属于本企业，不能从中销售", field="batch_id")
        if batch.product != product:
            raise SubsidyError(f"该批次不是{label}，不能按{label}销售", field="batch_id")
        if not batch.passed:
            raise SubsidyError(f"批次{batch.id}（报告{batch.report_no}）质量检测不合格，不能销售："
                               f"{batch.failed_reasons}", field="batch_id")
        if not _take(session, batch_id, supplier_id, product, kg):
            left = _fresh(session, batch_id)
            raise SubsidyError(f"批次{batch_id}库存不足：剩余 {left.quantity_kg - left.sold_kg} 千克，"
                               f"本次需要 {kg} 千克", field="batch_id")
        return batch_id
    if season_id is None:
        season_id = seasons.active_season(session).id
    params = {"want_supplier_id": supplier_id, "want_product": product, "want_season_id": season_id, "want_kg": kg}
    taken = session.connection().execute(TAKE_OLDEST, params).scalar_one_or_none()
    if taken is not None:
        return taken
    # The oldest batch ran short between choosing and locking it (a concurrent sale): try each candidate in turn.
    candidates = session.connection().execute(_CANDIDATES, params).scalars().all()
    for candidate in candidates:
        if _take(session, candidate, supplier_id, product, kg):
            return candidate
    raise SubsidyError(f"本企业没有库存足够（{kg} 千克）的合格{label}批次，请先登记进货批次", field="quantity")


def return_stock(session: Session, batch_id: int, kg: int) -> Batch:
    """Give `kg` back to a batch when a slip is voided."""
    if isinstance(kg, bool) or not isinstance(kg, int) or kg <= 0:
        raise SubsidyError("退回数量应为大于0的整数（千克）")
    result = session.execute(update(Batch).where(Batch.id == batch_id, Batch.sold_kg >= kg)
                             .values(sold_kg=Batch.sold_kg - kg).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise SubsidyError(f"批次{batch_id}的已售数量少于退回数量 {kg} 千克，无法退回")
    return _fresh(session, batch_id)
