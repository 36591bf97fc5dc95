"""The in/out ledger (进销货台账, seed 001) of one supplier and one coal product in one season.

Rows: every batch in (its arrival date and kg) and every issued slip out (its date and the kg of that product on it),
in date order (on one day, ins before outs), with the running balance.

Choices, documented:
- Voided slips are EXCLUDED: voiding gives the stock back to its batch (`batches.return_stock`), so leaving the void
  out keeps the ledger equal to the batches' own stock (sum of quantity_kg - sold_kg over passed batches); the voided
  slip stays visible on the slips pages.
- Failed batches are LISTED (the delivery happened and its report is evidence) but marked and NOT counted in the
  balance: they can never be sold from.
- Days of stock left = balance / (kg sold in the last 14 days, today included, / 14); a warning under 5 days (seed
  001 asks for five days of reserve stock). No sales in 14 days: no estimate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy import clock, seasons
from subsidy.errors import NotFound
from subsidy.models import COAL_PRODUCTS, PRODUCT_LABELS, Batch, Slip, SlipLine, SlipStatus, Supplier
from subsidy.money import tons

WINDOW_DAYS = 14
WARN_DAYS = 5


@dataclass(frozen=True)
class Row:
    day: date
    kind: str  # "in" | "out"
    ref: str  # report number of a batch, number of a slip
    detail: str
    in_kg: int
    out_kg: int
    balance_kg: int
    counted: bool = True  # False for a failed batch (listed, not in stock)


@dataclass
class Ledger:
    supplier: Supplier
    product: str
    season_id: int
    rows: list[Row] = field(default_factory=list)
    in_kg: int = 0
    out_kg: int = 0
    failed_in_kg: int = 0
    recent_out_kg: int = 0

    @property
    def balance_kg(self) -> int:
        return self.in_kg - self.out_kg

    @property
    def daily_kg(self) -> int:
        """Average daily sales over the window, rounded down to whole kg (0: no sales)."""
        return self.recent_out_kg // WINDOW_DAYS

    @property
    def days_left(self) -> float | None:
        if not self.recent_out_kg:
            return None
        return self.balance_kg * WINDOW_DAYS / self.recent_out_kg

    @property
    def low_stock(self) -> bool:
        return self.days_left is not None and self.days_left < WARN_DAYS


def _supplier(session: Session, supplier_id: int) -> Supplier:
    supplier = session.get(Supplier, supplier_id)  # scoped: a supplier sees only itself
    if supplier is None:
        raise NotFound()
    return supplier


def _recent_out(session: Session, supplier_id: int, product: str, season_id: int, today: date) -> int:
    since = today - timedelta(days=WINDOW_DAYS - 1)
    return int(session.execute(
        select(func.coalesce(func.sum(SlipLine.quantity), 0)).join(Slip, Slip.id == SlipLine.slip_id).where(
            Slip.supplier_id == supplier_id, Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED,
            SlipLine.product == product, Slip.issued_on >= since, Slip.issued_on <= today)).scalar_one())


def build(session: Session, supplier_id: int, product: str, season_id: int | None = None) -> Ledger:
    """The ledger, after checking the supplier is in the caller's scope (NotFound otherwise)."""
    supplier = _supplier(session, supplier_id)
    if product not in COAL_PRODUCTS:
        raise NotFound()
    season_id = season_id or seasons.active_season(session).id
    ledger = Ledger(supplier=supplier, product=product, season_id=season_id)
    ins = session.execute(
        select(Batch.id, Batch.arrival_date, Batch.created_at, Batch.report_no, Batch.producer, Batch.origin,
               Batch.quantity_kg, Batch.passed)
        .where(Batch.supplier_id == supplier_id, Batch.product == product, Batch.season_id == season_id)).all()
    outs = session.execute(
        select(Slip.id, Slip.issued_on, Slip.number, Slip.head_name, func.sum(SlipLine.quantity))
        .join(SlipLine, SlipLine.slip_id == Slip.id)
        .where(Slip.supplier_id == supplier_id, Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED,
               SlipLine.product == product)
        .group_by(Slip.id, Slip.issued_on, Slip.number, Slip.head_name)).all()
    events = []
    for bid, arrival, created, report_no, producer, origin, kg, passed in ins:
        day = arrival or clock.local(created).date()
        detail = " ".join(x for x in (producer, origin) if x) + ("" if passed else "（检测不合格，不计入库存）")
        events.append((day, 0, bid, "in", report_no, detail.strip(), int(kg), bool(passed)))
    for sid, day, number, head_name, kg in outs:
        events.append((day, 1, sid, "out", number, head_name, int(kg), True))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    balance = 0
    for day, _, _, kind, ref, detail, kg, counted in events:
        if kind == "in":
            if counted:
                balance += kg
                ledger.in_kg += kg
            else:
                ledger.failed_in_kg += kg
            ledger.rows.append(Row(day, kind, ref, detail, kg, 0, balance, counted))
        else:
            balance -= kg
            ledger.out_kg += kg
            ledger.rows.append(Row(day, kind, ref, detail, 0, kg, balance))
    ledger.recent_out_kg = _recent_out(session, supplier_id, product, season_id, clock.today())
    return ledger


@dataclass(frozen=True)
class Overview:
    supplier: Supplier
    product: str
    in_kg: int
    out_kg: int
    recent_out_kg: int

    @property
    def balance_kg(self) -> int:
        return self.in_kg - self.out_kg

    @property
    def days_left(self) -> float | None:
        return None if not self.recent_out_kg else self.balance_kg * WINDOW_DAYS / self.recent_out_kg

    @property
    def low_stock(self) -> bool:
        return self.days_left is not None and self.days_left < WARN_DAYS


def overview(session: Session, season_id: int | None = None) -> list[Overview]:
    """One line per supplier (in scope) and coal product with batches: in, out, balance, days left. Aggregates
    only (the batches' sold_kg is the out of issued slips, see the module docstring)."""
    season_id = season_id or seasons.active_season(session).id
    today = clock.today()
    since = today - timedelta(days=WINDOW_DAYS - 1)
    stock = session.execute(
        select(Batch.supplier_id, Batch.product, func.sum(Batch.quantity_kg))
        .where(Batch.season_id == season_id, Batch.passed.is_(True))
        .group_by(Batch.supplier_id, Batch.product)).all()
    out = {(s, p): int(kg) for s, p, kg in session.execute(
        select(Slip.supplier_id, SlipLine.product, func.sum(SlipLine.quantity)).join(Slip, Slip.id == SlipLine.slip_id)
        .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED, SlipLine.product.in_(
            [str(p) for p in COAL_PRODUCTS]))
        .group_by(Slip.supplier_id, SlipLine.product)).all()}
    recent = {(s, p): int(kg) for s, p, kg in session.execute(
        select(Slip.supplier_id, SlipLine.product, func.sum(SlipLine.quantity)).join(Slip, Slip.id == SlipLine.slip_id)
        .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED, Slip.issued_on >= since,
               Slip.issued_on <= today)
        .group_by(Slip.supplier_id, SlipLine.product)).all()}
    suppliers = {s.id: s for s in session.execute(select(Supplier)).scalars()}
    result = [Overview(suppliers[s], p, int(kg), out.get((s, p), 0), recent.get((s, p), 0))
              for s, p, kg in stock if s in suppliers]
    result.sort(key=lambda o: (o.supplier.code, COAL_PRODUCTS.index(o.product)))
    return result


def to_xlsx(ledger: Ledger) -> bytes:
    """The ledger as a spreadsheet (openpyxl write_only: streamed, whatever the number of rows). Dates are ISO text
    cells (YYYY-MM-DD sorts correctly): a styled date cell costs about twice as much to write."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("进销货台账")
    for width, col in zip((12, 8, 24, 30, 14, 14, 14), "ABCDEFG"):
        sheet.column_dimensions[col].width = width
    label = PRODUCT_LABELS.get(ledger.product, ledger.product)
    sheet.append([f"{ledger.supplier.name} {label} 进销货台账"])
    sheet.append(["日期", "类别", "检测报告/销售单号", "来源/购买户", "进货(千克)", "销售(千克)", "结存(千克)"])
    for row in ledger.rows:
        ref = WriteOnlyCell(sheet, value=row.ref)
        ref.data_type = "s"
        sheet.append([row.day.isoformat(), "进货" if row.kind == "in" else "销售", ref, row.detail,
                      row.in_kg if row.kind == "in" else None, row.out_kg or None, row.balance_kg])
    sheet.append([])
    sheet.append(["合计", "", "", "", ledger.in_kg, ledger.out_kg, ledger.balance_kg])
    days = ledger.days_left
    sheet.append(["近14天日均销售(千克)", ledger.daily_kg, "", "可销售天数",
                  "无销售" if days is None else round(days, 1)])
    if ledger.failed_in_kg:
        sheet.append(["不合格批次(不计入库存)", ledger.failed_in_kg])
    sheet.append([f"结存 {tons(ledger.balance_kg)} 吨"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
