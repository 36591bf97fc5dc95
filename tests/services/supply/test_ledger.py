"""The stock ledger (subsidy/supply/ledger.py): paged and summed in SQL, checked against a brute-force computation in Python
over the raw batches and slip lines, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.supply import batches, ledger
from subsidy.core import clock, db
from subsidy.policy import seasons
from subsidy.core.errors import NotFound
from subsidy.models import Batch, Slip, SlipLine, SlipStatus, User
from subsidy.core.scope import Scope
from tests.factories.supply import add_batch, sold_slip, supplier


@pytest.fixture
def today(frozen) -> date:
    """Noon in China today (04:00 UTC), frozen."""
    day = date.today()
    frozen(datetime(day.year, day.month, day.day, 4, tzinfo=timezone.utc))
    return clock.today()


def brute_force(session, supplier_id: int, product: str = "briquette") -> list[tuple]:
    """The ledger as the module docstring defines it, computed row by row in Python from the raw tables:
    (day, kind, batch_id, in_kg, out_kg, slips, balance_kg, counted)."""
    season_id = seasons.active_season(session).id
    events = []
    for b in session.execute(select(Batch).where(Batch.supplier_id == supplier_id, Batch.season_id == season_id,
                                                 Batch.product == product)).scalars():
        day = b.arrival_date or clock.local(b.created_at).date()
        events.append(((day, 0, b.id), "in", b.id, b.quantity_kg, 0, 0, b.passed))
    sales: dict[tuple, list] = defaultdict(lambda: [0, set()])
    for line, slip in session.execute(select(SlipLine, Slip).join(Slip, Slip.id == SlipLine.slip_id).where(
            Slip.supplier_id == supplier_id, Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED,
            SlipLine.product == product)):
        kg_and_slips = sales[(slip.issued_on, 1, line.batch_id or 0)]
        kg_and_slips[0] += line.quantity
        kg_and_slips[1].add(slip.id)
    for key, (kg, slips) in sales.items():
        events.append((key, "out", key[2] or None, 0, kg, len(slips), True))
    rows, balance = [], 0
    for (day, _, _), kind, batch_id, in_kg, out_kg, slips, counted in sorted(events, key=lambda e: e[0]):
        balance += (in_kg if counted else 0) - out_kg
        rows.append((day, kind, batch_id, in_kg, out_kg, slips, balance, counted))
    return rows


def as_tuples(rows) -> list[tuple]:
    return [(r.day, r.kind, r.batch_id, r.in_kg, r.out_kg, r.slips, r.balance_kg, r.counted) for r in rows]


def a_busy_fortnight(session, today: date) -> dict:
    """coal-a: the demo's 500 t, three more deliveries (one failed) and sales over nine days from several batches a
    day, with voids, lines recorded without a batch, another product, and coal-b's sales on the same days."""
    demo_batch = session.execute(select(Batch).where(Batch.supplier_id == supplier(session, "coal-a").id)).scalar()
    second = add_batch(session, quantity_kg=20_000, arrival_date=today - timedelta(days=6), report_no="JC-2")
    failed = add_batch(session, quantity_kg=7_000, arrival_date=today - timedelta(days=6), report_no="JC-3",
                       sulfur_pct="0.9")
    third = add_batch(session, quantity_kg=10_000, arrival_date=today - timedelta(days=3), report_no="JC-4")
    voided = []
    for ago in range(8, -1, -1):
        day = today - timedelta(days=ago)
        sources = [demo_batch.id] + ([second.id] if ago <= 6 else []) + ([third.id] if ago <= 3 else [])
        for n in range(5):
            sold_slip(session, "coal-a", 300 + 37 * n + ago, issued_on=day, batch_id=sources[n % len(sources)])
        voided.append(sold_slip(session, "coal-a", 999, issued_on=day, batch_id=demo_batch.id,
                                status=SlipStatus.VOIDED))
        if ago % 3 == 0:
            sold_slip(session, "coal-a", 150, issued_on=day)  # a line recorded without a batch
        sold_slip(session, "coal-a", 400, issued_on=day, product="anthracite")  # another product's ledger
        sold_slip(session, "coal-b", 4000, issued_on=day)  # another supplier's ledger
    return {"demo": demo_batch, "second": second, "failed": failed, "third": third, "voided": voided}


@pytest.mark.parametrize("per_page", [1, 4, 7, 50])
def test_the_pages_carry_the_running_balance_across_their_boundaries(demo, session, today, per_page):
    a_busy_fortnight(session, today)
    coal_a = supplier(session, "coal-a")
    expected = brute_force(session, coal_a.id)
    first = ledger.build(session, coal_a.id, "briquette", per_page=per_page)
    assert first.row_count == len(expected) and first.pages == -(-len(expected) // per_page)
    seen, carried = [], 0
    for number in range(1, first.pages + 1):
        page = ledger.build(session, coal_a.id, "briquette", page=number, per_page=per_page)
        assert page.carried_kg == carried, f"page {number} starts from the balance the page before ended on"
        assert len(page.rows) == min(per_page, len(expected) - len(seen))
        seen += as_tuples(page.rows)
        carried = page.rows[-1].balance_kg
    assert seen == expected


def test_sales_are_one_row_per_day_and_batch_with_the_number_of_slips(demo, session, today):
    made = a_busy_fortnight(session, today)
    coal_a = supplier(session, "coal-a")
    rows = list(ledger.all_rows(session, ledger.build(session, coal_a.id, "briquette")))
    assert as_tuples(rows) == brute_force(session, coal_a.id)
    on_the_last_day = [r for r in rows if r.day == today]
    assert [(r.kind, r.batch_id) for r in on_the_last_day] == [
        ("out", None), ("out", made["demo"].id), ("out", made["second"].id), ("out", made["third"].id)]
    assert [r.slips for r in on_the_last_day] == [1, 2, 2, 1]
    assert on_the_last_day[1].ref == made["demo"].report_no and on_the_last_day[1].detail == "销售单 2 张"
    delivery = next(r for r in rows if r.kind == "in" and r.batch_id == made["second"].id)
    assert delivery.day == today - timedelta(days=6) and delivery.in_kg == 20_000 and delivery.ref == "JC-2"
    failed = next(r for r in rows if r.batch_id == made["failed"].id)
    assert not failed.counted and "不合格" in failed.detail
    assert rows.index(delivery) < rows.index(failed), "deliveries of one day in the order they were recorded"


def test_the_totals_are_the_season_whatever_the_page(demo, session, today):
    a_busy_fortnight(session, today)
    coal_a = supplier(session, "coal-a")
    expected = brute_force(session, coal_a.id)
    for number in (1, 3, 99):
        book = ledger.build(session, coal_a.id, "briquette", page=number, per_page=5)
        assert book.in_kg == 500_000 + 20_000 + 10_000 and book.failed_in_kg == 7_000
        assert book.out_kg == sum(row[4] for row in expected)
        assert book.balance_kg == expected[-1][6]
    assert book.rows == [], "past the last page: the figures, and no rows"


def test_a_voided_slip_is_left_out_so_the_ledger_equals_the_batches_stock(demo, session, today):
    coal_a = supplier(session, "coal-a")
    second = add_batch(session, quantity_kg=20_000, arrival_date=today - timedelta(days=3))
    add_batch(session, quantity_kg=7_000, sulfur_pct="0.9")  # failed: listed, not counted
    sales = [(1200, 10), (800, 5), (2500, 2), (3000, 1), (1500, 0)]
    for kg, ago in sales:
        taken = batches.take_stock(session, supplier_id=coal_a.id, product="briquette", batch_id=None, kg=kg)
        sold_slip(session, "coal-a", kg, issued_on=today - timedelta(days=ago), batch_id=taken.id)
    # A sale on its own on a day, then voided: stock back to its batch, and that day has no sales row any more.
    taken = batches.take_stock(session, supplier_id=coal_a.id, product="briquette", batch_id=None, kg=999)
    lonely = sold_slip(session, "coal-a", 999, issued_on=today - timedelta(days=4), batch_id=taken.id)
    batches.return_stock(session, taken.id, 999)
    lonely.status = SlipStatus.VOIDED
    session.flush()
    book = ledger.build(session, coal_a.id, "briquette")
    assert book.in_kg == 500_000 + second.quantity_kg and book.failed_in_kg == 7_000
    assert book.out_kg == sum(kg for kg, _ in sales)
    assert book.balance_kg == book.in_kg - book.out_kg == book.rows[-1].balance_kg
    stock = session.execute(select(Batch).where(Batch.supplier_id == coal_a.id, Batch.passed.is_(True))).scalars()
    assert book.balance_kg == sum(b.quantity_kg - b.sold_kg for b in stock)
    assert today - timedelta(days=4) not in {r.day for r in book.rows}
    assert as_tuples(book.rows) == brute_force(session, coal_a.id)


def test_days_of_stock_left_warns_under_five_days(demo, session, today):
    coal_b = supplier(session, "coal-b")
    # 500 t in stock and no sales yet: no estimate; then 140 t (10 t a day): 36 days; then 320 t more: under 5.
    book = ledger.build(session, coal_b.id, "briquette")
    assert book.days_left is None and not book.low_stock
    sold_slip(session, "coal-b", 140_000, issued_on=today - timedelta(days=1))
    book = ledger.build(session, coal_b.id, "briquette")
    assert book.daily_kg == 10_000 and round(book.days_left, 1) == 36.0 and not book.low_stock
    sold_slip(session, "coal-b", 320_000, issued_on=today)
    book = ledger.build(session, coal_b.id, "briquette")
    assert book.balance_kg == 40_000 and book.daily_kg == 32_857
    assert book.low_stock and book.days_left == 1  # 40 t at 32.857 t a day: 1.2 days, counted as whole days
    overview = {(o.supplier.code, o.product): o for o in ledger.overview(session)}
    assert overview[("coal-b", "briquette")].low_stock


def test_the_days_left_count_the_last_fourteen_days_today_included(demo, session, today):
    coal_b = supplier(session, "coal-b")
    sold_slip(session, "coal-b", 100_000, issued_on=today - timedelta(days=14))  # fifteen days ago: outside
    sold_slip(session, "coal-b", 14_000, issued_on=today - timedelta(days=13))
    sold_slip(session, "coal-b", 999, issued_on=today, status=SlipStatus.VOIDED)
    book = ledger.build(session, coal_b.id, "briquette")
    assert book.recent_out_kg == 14_000 and book.daily_kg == 1_000
    assert book.balance_kg == 386_000 and book.days_left == 386.0 and not book.low_stock


def test_a_batch_without_an_arrival_date_is_entered_on_the_china_day_it_was_recorded(demo, session, today):
    coal_a = supplier(session, "coal-a")
    late = add_batch(session, quantity_kg=3_000, report_no="JC-OLD")
    # Recorded at 17:30 UTC, which is 01:30 the next morning in China.
    late.arrival_date, late.created_at = None, datetime(2021, 11, 30, 17, 30, tzinfo=timezone.utc)
    session.flush()
    rows = ledger.build(session, coal_a.id, "briquette").rows
    assert [(r.day, r.ref) for r in rows if r.batch_id == late.id] == [(date(2021, 12, 1), "JC-OLD")]
    assert as_tuples(rows) == brute_force(session, coal_a.id)


def test_a_supplier_sees_only_its_own_ledger(demo, session, engine, today):
    a_busy_fortnight(session, today)
    session.commit()
    coal_a, coal_b = supplier(session, "coal-a"), supplier(session, "coal-b")
    expected = brute_force(session, coal_a.id)
    clerk = session.execute(select(User).where(User.username == "coal-a")).scalar_one()
    with db.new_session(engine, scope=Scope.of(clerk)) as mine:
        book = ledger.build(mine, coal_a.id, "briquette", per_page=4, page=2)
        assert as_tuples(book.rows) == expected[4:8]
        assert as_tuples(ledger.all_rows(mine, book)) == expected
        with pytest.raises(NotFound):
            ledger.build(mine, coal_b.id, "briquette")
        with pytest.raises(NotFound):
            ledger.build(mine, coal_a.id, "stove")


def test_the_export_has_every_row_and_the_totals(demo, session, today):
    a_busy_fortnight(session, today)
    coal_a = supplier(session, "coal-a")
    expected = brute_force(session, coal_a.id)
    book = ledger.build(session, coal_a.id, "briquette", page=None)
    assert book.rows == []
    sheet = load_workbook(BytesIO(ledger.to_xlsx(session, book))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:3] == ("日期", "类别", "批次检测报告")
    body = rows[2:2 + len(expected)]
    # A failed batch's delivery is listed in a column of its own (不合格进货), so 进货 sums to the counted stock.
    assert [(r[0], r[1], (r[4] or 0) + (r[8] or 0), r[5] or 0, r[6], r[7] or 0, r[8] is None) for r in body] == [
        (e[0].isoformat(), "进货" if e[1] == "in" else "销售", e[3], e[4], e[6], e[5], e[7]) for e in expected]
    totals = rows[2 + len(expected)]
    assert totals[0] == "合计" and totals[4:9] == (book.in_kg, book.out_kg, book.balance_kg,
                                                  sum(e[5] for e in expected), 7_000)
    assert book.balance_kg == expected[-1][6]
    assert totals[4] == sum(r[4] or 0 for r in body) and totals[8] == sum(r[8] or 0 for r in body)
    days = next(r for r in rows if r[0] == "近14天日均销售(千克)")
    assert days[3:5] == ("可销售天数(天)", book.days_left) and isinstance(book.days_left, int)
