"""The in/out ledger (进销货台账, seed 001) of one supplier and one coal product in one season.

Rows, in date order (on one day, deliveries before sales, then by batch):
- 进货: one row per batch delivered (its arrival date, test report, producer and origin, kg);
- 销售: one row per day and per batch sold from (the kg of that product on that day's issued slips that took it
  from that batch, and how many slips), which is how a paper 进销存台账 reads; a clerk looks a single slip up on the
  slips pages. Lines recorded without a batch are grouped in one row per day with an empty batch.
Each row carries the running balance (结存).

Choices, documented:
- Voided slips are EXCLUDED: voiding gives the stock back to its batch (`batches.return_stock`), so leaving the void
  out keeps the ledger equal to the batches' own stock (sum of quantity_kg - sold_kg over passed batches); the voided
  slip stays visible on the slips pages. A void therefore lowers the sales row of the day the slip was issued, not a
  row on the day of the void.
- Failed batches are LISTED (the delivery happened and its report is evidence) but marked and NOT counted in the
  balance: they can never be sold from.
- Frozen batches (a failed government spot check) stay in the balance (the coal is in the yard, and a void gives
  stock back to them), and what is left of them is `frozen_kg`, shown beside the balance: the stock that may be
  sold is `sellable_kg`, and the days of stock left are counted on it. Their delivery row says they are frozen.
- Days of stock left = balance / (kg sold in the last 14 days, today included, / 14), in whole days rounded down; a
  warning under 5 days (seed 001 asks for five days of reserve stock). No sales in 14 days: no estimate.

Scale (DESIGN.md: 2,000,000 slips a season; one supplier can have hundreds of thousands of slip lines). Nothing here
loads the season into Python. A page costs two queries:
1. the day book: one aggregate pass over the season's lines (index-only: `ix_slip_ledger` then `ix_slip_line_ledger`)
   grouped by day, ordered by date, with window sums for the rows and the balance before each day and for the totals;
   only the days that the page covers (and the last day, which carries the totals) come back;
2. the page's rows: deliveries and sales grouped by day and batch, for those few days only, with LIMIT and OFFSET
   counted from the first of them, and the running balance as a window sum started from that day's balance.
The Excel export runs the same rows query over the whole season and streams it into a write-only workbook.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, Integer, and_, case, distinct, func, literal_column, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from subsidy.core import clock
from subsidy.core.db import pg_branch
from subsidy.policy import seasons
from subsidy.core.errors import NotFound
from subsidy.models import COAL_PRODUCTS, PRODUCT_LABELS, Batch, Slip, SlipLine, SlipStatus, Supplier

WINDOW_DAYS = 14
WARN_DAYS = 5
PER_PAGE = 50
MAX_PAGE = 1_000_000
NO_BATCH = 0  # the batch key of sales lines recorded without a batch (ids start at 1)
_ZERO = literal_column("0", Integer)  # a constant column of the UNIONs, written inline (no bound parameter)


class _china_date(FunctionElement):
    """The China (UTC+8, no daylight saving: clock.CST) calendar date of a stored UTC timestamp."""

    type = Date()
    inherit_cache = True


@compiles(_china_date, "sqlite")
def _china_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(_china_date, "postgresql")
def _china_date_pg(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') + INTERVAL '8 hours' AS DATE)"


@dataclass(frozen=True)
class Row:
    day: date
    kind: str  # "in" | "out"
    batch_id: int | None  # the batch delivered, or sold from (None: sales lines recorded without a batch)
    ref: str  # the batch's test report number
    detail: str  # in: producer and origin; out: how many slips
    in_kg: int
    out_kg: int
    balance_kg: int
    counted: bool = True  # False for a failed batch (listed, not in stock)
    slips: int = 0  # out: the number of issued slips in the row
    frozen: bool = False  # in: a failed spot check froze what is left of the batch


class _Stock:
    """Stock in hand and how long it lasts at the recent pace: one rule for the ledger page and the overview.
    The classes that use it carry `in_kg`, `out_kg` and `recent_out_kg` (sold in the last WINDOW_DAYS days)."""

    in_kg: int
    out_kg: int
    recent_out_kg: int
    frozen_kg: int

    @property
    def balance_kg(self) -> int:
        return self.in_kg - self.out_kg

    @property
    def sellable_kg(self) -> int:
        """The balance less the stock a failed spot check froze."""
        return self.balance_kg - self.frozen_kg

    @property
    def daily_kg(self) -> int:
        """Average daily sales over the window, rounded down to whole kg (0: no sales)."""
        return self.recent_out_kg // WINDOW_DAYS

    @property
    def days_left(self) -> int | None:
        """Whole days of stock left at the recent pace, rounded down (stock for 4.9 days does not last 5; and the
        warning under WARN_DAYS is the same whether the fraction is kept or not); None: nothing sold lately, so no
        pace to go by."""
        return None if not self.recent_out_kg else self.sellable_kg * WINDOW_DAYS // self.recent_out_kg

    @property
    def low_stock(self) -> bool:
        return self.days_left is not None and self.days_left < WARN_DAYS


@dataclass
class Ledger(_Stock):
    """The figures of the whole season and the rows of one page."""

    supplier: Supplier
    product: str
    season_id: int
    page: int = 1
    per_page: int = PER_PAGE
    rows: list[Row] = field(default_factory=list)  # this page only
    row_count: int = 0  # rows in the whole season
    carried_kg: int = 0  # the balance brought forward to the top of this page (承前页)
    in_kg: int = 0
    out_kg: int = 0
    failed_in_kg: int = 0
    recent_out_kg: int = 0
    frozen_kg: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.row_count // self.per_page))



def _supplier(session: Session, supplier_id: int) -> Supplier:
    supplier = session.get(Supplier, supplier_id)  # scoped: a supplier sees only itself
    if supplier is None:
        raise NotFound()
    return supplier


# --- the queries -------------------------------------------------------------------------------------------------

def _batch_day():
    # batches.record always sets the arrival date; older rows fall back on the day they were recorded.
    return func.coalesce(Batch.arrival_date, _china_date(Batch.created_at))


def _batches_where(book: Ledger) -> list:
    return [Batch.supplier_id == book.supplier.id, Batch.season_id == book.season_id, Batch.product == book.product]


def _sales_where(book: Ledger) -> list:
    # Matches ix_slip_ledger (supplier_id, season_id, status, issued_on, id) and ix_slip_line_ledger (slip_id,
    # product, batch_id, quantity): both sides are read from the indexes alone.
    return [Slip.supplier_id == book.supplier.id, Slip.season_id == book.season_id,
            Slip.status == SlipStatus.ISSUED, SlipLine.product == book.product]


def _batch_key():
    # Inline, not a bound parameter: PostgreSQL must see the same expression in SELECT and GROUP BY.
    return func.coalesce(SlipLine.batch_id, literal_column(str(NO_BATCH), Integer))


def _sales_by_day(session: Session, book: Ledger):
    """Per day: the number of sales rows (batches sold from) and the kg sold. The one pass over the season's lines,
    written for each database's fastest plan (measured by scripts/bench_ledger.py): SQLite walks ix_slip_ledger in
    day order and aggregates each day as it goes (COUNT DISTINCT over a handful of batches), where grouping by day and
    batch first would sort every line; PostgreSQL hashes day × batch then day, where COUNT DISTINCT would make it
    sort every line."""
    # DIALECT FORK (bench: scripts/bench_ledger.py): PostgreSQL hashes where COUNT DISTINCT would sort every line
    if not pg_branch(session.get_bind()):
        return (select(Slip.issued_on.label("day"), func.count(distinct(_batch_key())).label("n"),
                       _ZERO.label("in_kg"), _ZERO.label("failed_kg"), func.sum(SlipLine.quantity).label("out_kg"))
                .join(SlipLine, SlipLine.slip_id == Slip.id).where(*_sales_where(book)).group_by(Slip.issued_on))
    by_batch = (select(Slip.issued_on.label("day"), func.sum(SlipLine.quantity).label("kg"))
                .join(SlipLine, SlipLine.slip_id == Slip.id).where(*_sales_where(book))
                .group_by(Slip.issued_on, _batch_key()).subquery("sales_by_batch"))
    return select(by_batch.c.day, func.count().label("n"), _ZERO.label("in_kg"), _ZERO.label("failed_kg"),
                  func.sum(by_batch.c.kg).label("out_kg")).group_by(by_batch.c.day)


def _day_book(session: Session, book: Ledger, first: int, end: int, today: date):
    """One row per day with deliveries or sales, computed in one pass, with (window sums) the number of ledger rows
    and the balance before that day and the season's totals. Returns only the days holding ledger rows first..end-1
    (0-based) and the last day, which is always there so that the totals are too."""
    ins = (select(_batch_day().label("day"), func.count().label("n"),
                  func.sum(case((Batch.passed, Batch.quantity_kg), else_=0)).label("in_kg"),
                  func.sum(case((Batch.passed, 0), else_=Batch.quantity_kg)).label("failed_kg"),
                  _ZERO.label("out_kg"))
           .where(*_batches_where(book)).group_by(_batch_day()))
    both = union_all(ins, _sales_by_day(session, book)).subquery("both_sides")
    days = (select(both.c.day, func.sum(both.c.n).label("n"), func.sum(both.c.in_kg).label("in_kg"),
                   func.sum(both.c.failed_kg).label("failed_kg"), func.sum(both.c.out_kg).label("out_kg"))
            .group_by(both.c.day).subquery("days"))
    upto = {"order_by": days.c.day, "rows": (None, 0)}
    net = days.c.in_kg - days.c.out_kg
    since = today - timedelta(days=WINDOW_DAYS - 1)
    day_book = select(
        days.c.day, days.c.n,
        (func.sum(days.c.n).over(**upto) - days.c.n).label("rows_before"),
        (func.sum(net).over(**upto) - net).label("balance_before"),
        func.sum(days.c.n).over().label("total_rows"),
        func.sum(days.c.in_kg).over().label("total_in"),
        func.sum(days.c.failed_kg).over().label("total_failed"),
        func.sum(days.c.out_kg).over().label("total_out"),
        func.sum(case((days.c.day.between(since, today), days.c.out_kg), else_=0)).over().label("recent_out"),
    ).subquery("day_book")
    return session.execute(
        select(day_book).where(or_(and_(day_book.c.rows_before < end, day_book.c.rows_before + day_book.c.n > first),
                                   day_book.c.rows_before + day_book.c.n == day_book.c.total_rows))
        .order_by(day_book.c.day)).all()


def _rows_query(book: Ledger, first_day: date | None = None, last_day: date | None = None, balance_before: int = 0):
    """The ledger rows between two days (inclusive; None: the whole season), in ledger order, with the balance."""
    in_day = _batch_day()
    in_where, out_where = _batches_where(book), _sales_where(book)
    if first_day is not None:
        in_where += [in_day >= first_day, in_day <= last_day]
        out_where += [Slip.issued_on >= first_day, Slip.issued_on <= last_day]
    ins = select(in_day.label("day"), _ZERO.label("kind"), Batch.id.label("batch_key"),
                 Batch.quantity_kg.label("in_kg"), _ZERO.label("out_kg"),
                 case((Batch.passed, Batch.quantity_kg), else_=0).label("net"),
                 _ZERO.label("slips")).where(*in_where)
    outs = (select(Slip.issued_on.label("day"), literal_column("1", Integer).label("kind"),
                   _batch_key().label("batch_key"),
                   _ZERO.label("in_kg"), func.sum(SlipLine.quantity).label("out_kg"),
                   (-func.sum(SlipLine.quantity)).label("net"), func.count(distinct(Slip.id)).label("slips"))
            .join(SlipLine, SlipLine.slip_id == Slip.id).where(*out_where).group_by(Slip.issued_on, _batch_key()))
    rows = union_all(ins, outs).subquery("ledger_rows")
    order = (rows.c.day, rows.c.kind, rows.c.batch_key)
    # Batch itself, not an alias: the scope's criteria (subsidy/core/scope.py) then land on the right table.
    return (select(rows.c.day, rows.c.kind, rows.c.batch_key, rows.c.in_kg, rows.c.out_kg, rows.c.slips,
                   (balance_before + func.sum(rows.c.net).over(order_by=order, rows=(None, 0))).label("balance"),
                   Batch.report_no, Batch.producer, Batch.origin, Batch.passed, Batch.frozen_at)
            .select_from(rows).outerjoin(Batch, Batch.id == rows.c.batch_key).order_by(*order))


def _row(r) -> Row:
    if r.kind == 0:
        detail = " ".join(x for x in (r.producer, r.origin) if x) + ("" if r.passed else "（检测不合格，不计入库存）")
        if r.passed and r.frozen_at is not None:
            detail += "（政府抽检不合格，剩余库存已冻结）"
        return Row(r.day, "in", r.batch_key, r.report_no or "", detail.strip(), int(r.in_kg), 0, int(r.balance),
                   bool(r.passed), frozen=r.frozen_at is not None)
    slips = int(r.slips)
    return Row(r.day, "out", r.batch_key or None, r.report_no or "", f"销售单 {slips} 张", 0, int(r.out_kg),
               int(r.balance), True, slips)


def _frozen_kg(session: Session, where: list) -> int:
    """What is left of the passed batches a spot check froze (few rows: the batch table, not the lines)."""
    return int(session.execute(select(func.coalesce(func.sum(Batch.quantity_kg - Batch.sold_kg), 0)).where(
        *where, Batch.passed.is_(True), Batch.frozen_at.is_not(None))).scalar_one())


# --- the use cases -----------------------------------------------------------------------------------------------

def build(session: Session, supplier_id: int, product: str, season_id: int | None = None, *,
          page: int | None = 1, per_page: int = PER_PAGE) -> Ledger:
    """The season's figures and the rows of page `page` (1-based; past the last page: no rows; None: the figures
    only, as the export needs), after checking the supplier is in the caller's scope (NotFound otherwise)."""
    supplier = _supplier(session, supplier_id)
    if product not in COAL_PRODUCTS:
        raise NotFound()
    season_id = season_id or seasons.active_season(session).id
    # A page number typed into the URL may be any size; no ledger has a million pages, and the row numbers compared
    # in SQL must stay database integers (PostgreSQL casts them to INTEGER, 2**31).
    book = Ledger(supplier=supplier, product=str(product), season_id=season_id,
                  page=min(max(1, page or 1), MAX_PAGE), per_page=max(1, per_page))
    per_page = book.per_page
    first = (book.page - 1) * per_page
    end = first + per_page if page is not None else first
    book.frozen_kg = _frozen_kg(session, _batches_where(book))
    days = _day_book(session, book, first, end, clock.today())
    if not days:
        return book
    totals = days[-1]
    book.row_count, book.in_kg, book.out_kg = int(totals.total_rows), int(totals.total_in), int(totals.total_out)
    book.failed_in_kg, book.recent_out_kg = int(totals.total_failed), int(totals.recent_out)
    on_page = [d for d in days if d.rows_before < end and d.rows_before + d.n > first]
    if not on_page:
        return book
    start = on_page[0]
    query = _rows_query(book, start.day, on_page[-1].day, int(start.balance_before))
    book.rows = [_row(r) for r in session.execute(query.offset(first - int(start.rows_before)).limit(per_page))]
    top = book.rows[0]
    book.carried_kg = top.balance_kg - ((top.in_kg if top.counted else 0) - top.out_kg)
    return book


def all_rows(session: Session, book: Ledger) -> Iterator[Row]:
    """Every row of the season in order, streamed from the database (not held in memory)."""
    result = session.execute(_rows_query(book).execution_options(yield_per=1000))
    for r in result:
        yield _row(r)


def to_xlsx(session: Session, book: Ledger) -> bytes:
    """The whole season's ledger as a spreadsheet: rows streamed from the database into an openpyxl write_only
    workbook (it writes each row out as it comes; memory stays flat whatever the number of rows). Dates are ISO text
    cells (YYYY-MM-DD sorts correctly): a styled date cell costs about twice as much to write."""
    from openpyxl import Workbook

    from subsidy.core import sheets

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("进销货台账")
    for width, col in zip((12, 8, 24, 30, 14, 14, 14, 10, 16), "ABCDEFGHI"):
        sheet.column_dimensions[col].width = width
    label = PRODUCT_LABELS.get(book.product, book.product)
    sheets.append(sheet, [f"{book.supplier.name} {label} 进销货台账"])
    sheets.append(sheet, ["日期", "类别", "批次检测报告", "来源/销售", "进货(千克)", "销售(千克)", "结存(千克)",
                          "销售单(张)", "不合格进货(千克)"])
    slips = 0
    for row in all_rows(session, book):
        # A failed batch's delivery has its own column: it is not stock, so 进货 adds up to the 合计 that the
        # balance counts, and each number column of the sheet sums to its total row.
        counted_in = row.in_kg if row.kind == "in" and row.counted else None
        failed_in = row.in_kg if row.kind == "in" and not row.counted else None
        slips += row.slips
        sheets.append(sheet, [row.day.isoformat(), "进货" if row.kind == "in" else "销售", row.ref, row.detail,
                              sheets.kg(counted_in), sheets.kg(row.out_kg or None), sheets.kg(row.balance_kg),
                              sheets.count(row.slips or None), sheets.kg(failed_in)])
    sheets.append(sheet, ["合计", "", "", "", sheets.kg(book.in_kg), sheets.kg(book.out_kg), sheets.kg(book.balance_kg),
                          sheets.count(slips), sheets.kg(book.failed_in_kg)])
    sheet.append([])
    days = book.days_left
    sheets.append(sheet, ["近14天日均销售(千克)", sheets.kg(book.daily_kg), "", "可销售天数(天)",
                          "近14天无销售" if days is None else sheets.count(days)])
    sheets.append(sheet, ["结存(吨)", sheets.tons(book.balance_kg)])
    if book.frozen_kg:
        sheets.append(sheet, ["其中抽检不合格冻结(吨)", sheets.tons(book.frozen_kg), "", "可销售(吨)",
                              sheets.tons(book.sellable_kg)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class Overview(_Stock):
    supplier: Supplier
    product: str
    in_kg: int
    out_kg: int
    recent_out_kg: int
    frozen_kg: int = 0


def overview(session: Session, season_id: int | None = None) -> list[Overview]:
    """One line per supplier (in scope) and coal product with batches: in, out, balance, days left. Aggregates
    only: one pass over the season's slip lines (the batches' sold_kg is the out of issued slips, see the module
    docstring)."""
    season_id = season_id or seasons.active_season(session).id
    today = clock.today()
    since = today - timedelta(days=WINDOW_DAYS - 1)
    frozen_left = case((Batch.frozen_at.is_not(None), Batch.quantity_kg - Batch.sold_kg), else_=0)
    stock = session.execute(
        select(Batch.supplier_id, Batch.product, func.sum(Batch.quantity_kg), func.sum(frozen_left))
        .where(Batch.season_id == season_id, Batch.passed.is_(True))
        .group_by(Batch.supplier_id, Batch.product)).all()
    out, recent = {}, {}
    for s, p, kg, recent_kg in session.execute(
            select(Slip.supplier_id, SlipLine.product, func.sum(SlipLine.quantity),
                   func.sum(case((Slip.issued_on.between(since, today), SlipLine.quantity), else_=0)))
            .join(Slip, Slip.id == SlipLine.slip_id)
            .where(Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED,
                   SlipLine.product.in_([str(p) for p in COAL_PRODUCTS]))
            .group_by(Slip.supplier_id, SlipLine.product)):
        out[(s, p)], recent[(s, p)] = int(kg), int(recent_kg)
    suppliers = {s.id: s for s in session.execute(select(Supplier)).scalars()}
    result = [Overview(suppliers[s], p, int(kg), out.get((s, p), 0), recent.get((s, p), 0), int(frozen or 0))
              for s, p, kg, frozen in stock if s in suppliers]
    result.sort(key=lambda o: (o.supplier.code, COAL_PRODUCTS.index(o.product)))
    return result
