"""Benchmark: the in/out ledger (进销货台账) of one supplier with about 500,000 slip lines in a season, on SQLite and
(when BENCH_DATABASE_URL or TEST_DATABASE_URL is set) PostgreSQL, each in a scratch database made and dropped here.

Prints the time of page 1, a middle page and the last page of the ledger, first as the service call (figures, days
left and one page of rows, in the supplier clerk's scoped session), then as the whole page rendered by the app for
that clerk, then the Excel export; each beside the floor, one plain SQL SUM over the season's lines (every page needs
one pass over them: the totals and the balance carried to the page). Goal: a page well under 1 s. Prints figures;
asserts nothing. Run:
`.venv/bin/python scripts/bench_ledger.py` (BENCH_BACKENDS=sqlite or =postgresql runs one; BENCH_LEDGER_LINES sets
the size; BENCH_KEEP=1 keeps the SQLite file and prints its path). `make bench` runs every scripts/bench_*.py.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

from sqlalchemy import bindparam, func, insert, select, text, update  # noqa: E402

from subsidy import demo
from subsidy.core import clock, db
from subsidy.supply import ledger
from subsidy.models import Batch, Registration, Season, Slip, SlipLine, Supplier, User, Village  # noqa: E402
from subsidy.core.scope import Scope

from scratch import on_each_backend  # noqa: E402
from subsidy.core.settings import get_settings

LINES = int(os.environ.get("BENCH_LEDGER_LINES", 500_000))  # coal-a's slip lines in the season
OTHER_LINES = LINES // 2  # coal-b's: rows the ledger's queries must skip
VOID_EVERY = 97  # about 1% of the slips are voided
BATCH_KG = 500_000  # a 500 t delivery
CHUNK = 50_000


def load(engine) -> tuple[int, int]:
    """The demo district, then coal-a's and coal-b's season of slips (one briquette line each, 100-999 kg), spread
    evenly over the season's days, sold first-in first-out from 500 t batches that arrive the day they are needed.
    Core insert executemany with explicit ids, in chunks. Returns (coal-a's id, the season's id)."""
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=6)
    with db.new_session(engine) as s:
        season = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        suppliers = {x.code: x for x in s.execute(select(Supplier)).scalars()}
        regs = s.execute(select(Registration.id, Registration.household_id, Registration.village_id, Village.town_id)
                         .join(Village, Village.id == Registration.village_id)
                         .where(Registration.status == "approved")).all()
        next_slip = (s.execute(select(func.max(Slip.id))).scalar() or 0) + 1
        next_line = (s.execute(select(func.max(SlipLine.id))).scalar() or 0) + 1
        next_batch = (s.execute(select(func.max(Batch.id))).scalar() or 0) + 1
    days = (season.ends_on - season.starts_on).days + 1
    now = clock.now()
    slips, lines, new_batches, sold = [], [], [], {}

    def flush():
        with engine.begin() as connection:
            if new_batches:
                connection.execute(insert(Batch.__table__), new_batches)
            connection.execute(insert(Slip.__table__), slips)
            connection.execute(insert(SlipLine.__table__), lines)
        slips.clear()
        lines.clear()
        new_batches.clear()

    for code, count in (("coal-a", LINES), ("coal-b", OTHER_LINES)):
        supplier = suppliers[code]
        prefix = f"{supplier.slip_prefix}{season.code}"
        batch_id, left = None, 0
        for n in range(count):
            day = season.starts_on + timedelta(days=n * days // count)
            kg = 100 + (n * 7919) % 900
            voided = n % VOID_EVERY == 0
            if not voided and kg > left:  # the next 500 t arrive that day
                batch_id, left = next_batch, BATCH_KG
                next_batch += 1
                new_batches.append(dict(
                    id=batch_id, supplier_id=supplier.id, season_id=season.id, product="briquette",
                    quantity_kg=BATCH_KG, sold_kg=0, producer="泰安市示范型煤厂", origin="山西晋城", arrival_date=day,
                    vehicle="鲁J12345", report_no=f"JC-{code}-{batch_id}", lab="泰安市产品质量检验所",
                    volatile_cpct=980, sulfur_cpct=35, ash_cpct=1800, calorific_kj_kg=24500, passed=True,
                    failed_reasons="", created_at=now))
            if not voided:
                left -= kg
                sold[batch_id] = sold.get(batch_id, 0) + kg
            reg = regs[n % len(regs)]
            amount = (kg * 110000 * 2 + 1000) // 2000
            subsidy = (kg * 30000 * 2 + 1000) // 2000
            slips.append(dict(
                id=next_slip, number=f"{prefix}-{n + 1:07d}", seq=n + 1, supplier_id=supplier.id,
                season_id=season.id, registration_id=reg.id, household_id=reg.household_id, town_id=reg.town_id,
                village_id=reg.village_id, status="voided" if voided else "issued", issued_at=now, issued_on=day,
                head_name="张三", id_number="370902194001019001", phone="13900000000", address="示范村1组1号",
                category="ordinary", coal_kg=kg, stoves=0, amount_fen=amount, subsidy_fen=subsidy,
                void_reason="录入错误" if voided else "", set_aside_reason=""))
            lines.append(dict(id=next_line, slip_id=next_slip, line_no=1, product="briquette", quantity=kg,
                              batch_id=batch_id, unit_price_fen=110000, amount_fen=amount, subsidy_fen=subsidy))
            next_slip += 1
            next_line += 1
            if len(slips) == CHUNK:
                flush()
        if slips:
            flush()
    with engine.begin() as connection:
        # What issuing would have left in the batches: the ledger's balance must equal their stock.
        connection.execute(update(Batch.__table__).where(Batch.__table__.c.id == bindparam("b_id"))
                           .values(sold_kg=bindparam("b_sold")),
                           [{"b_id": b, "b_sold": kg} for b, kg in sold.items()])
        if engine.dialect.name == "postgresql":
            for table in ("slip", "slip_line", "batch"):  # explicit ids: move the sequences on
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does after a bulk load: index-only scans need it
    else:
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    return suppliers["coal-a"].id, season.id


def timed(label: str, work, runs: int = 3, floor: float | None = None, goal: float | None = 1.0):
    """Best of `runs` (the first also warms the caches), against the goal (a page in under 1 s) and, given the
    floor, as a multiple of it."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    line = f"  {label:<58} {best * 1000:7.0f} ms"
    if floor:
        line += f"   {best / floor:4.1f}x the floor"
    if goal:
        line += "   OK" if best < goal else "   SLOW"
    print(line, flush=True)
    return result, best


def logged_in_client(username: str):
    """The app in process (Litestar's test client) with a browser-like login, as tests/clients.py does."""
    from litestar.testing import TestClient

    from web.app import create_app

    client = TestClient(app=create_app(), base_url="http://bench.local")
    client.get("/login")
    client.post("/login", data={"_csrf_token": client.cookies.get("csrftoken"), "username": username,
                                "password": f"{username}-demo"})
    return client


def run(url: str, label: str) -> None:
    print(f"\n== {label}: {LINES:,} slip lines of coal-a and {OTHER_LINES:,} of coal-b in the season "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    db.upgrade(url)
    engine = db.make_engine(url)
    start = time.perf_counter()
    supplier_id, season_id = load(engine)
    print(f"  (loading the demo and {LINES + OTHER_LINES:,} slips and lines with Core executemany: "
          f"{time.perf_counter() - start:.1f} s)", flush=True)
    with db.new_session(engine) as s:
        season = s.get(Season, season_id)
        clerk = s.execute(select(User).where(User.username == "coal-a")).scalar_one()
    clock.freeze(datetime.combine(season.ends_on, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=4))
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        with db.new_session(engine, scope=Scope.of(clerk)) as s:
            book = ledger.build(s, supplier_id, "briquette")
            pages = book.pages
            print(f"  coal-a's ledger: {book.row_count:,} rows ({pages} pages of {book.per_page}); "
                  f"in {book.in_kg:,} kg, out {book.out_kg:,} kg, balance {book.balance_kg:,} kg, {book.days_left:.1f} days left", flush=True)
            with engine.connect() as c:
                stock = c.execute(text("SELECT sum(quantity_kg - sold_kg) FROM batch WHERE supplier_id = :s "
                                       "AND passed"), {"s": supplier_id}).scalar()
            print(f"  the batches' own stock: {stock:,} kg, {'equal' if stock == book.balance_kg else 'DIFFERENT'}")

            def plain_sum():
                with engine.connect() as c:
                    return c.execute(text(
                        "SELECT sum(l.quantity) FROM slip s JOIN slip_line l ON l.slip_id = s.id WHERE "
                        "s.supplier_id = :s AND s.season_id = :season AND s.status = 'issued' AND "
                        "l.product = 'briquette'"), {"s": supplier_id, "season": season_id}).scalar()
            _, floor = timed("floor: plain SQL, SUM of the season's lines (one join pass)", plain_sum)
            numbers = (("page 1", 1), ("a middle page", (pages + 1) // 2), ("the last page", pages))
            for name, number in numbers:
                timed(f"ledger.build, {name} ({number}): figures and {book.per_page} rows",
                      lambda: ledger.build(s, supplier_id, "briquette", page=number), floor=floor)
        client = logged_in_client("coal-a")
        for name, number in numbers:
            def get():
                response = client.get(f"/ledger/{supplier_id}/briquette?page={number}")
                assert response.status_code == 200 and "进销货台账：" in response.text, response.status_code
            timed(f"GET the page as coal-a, {name}", get, floor=floor)

        def export():
            response = client.get(f"/ledger/{supplier_id}/briquette/xlsx")
            assert response.status_code == 200, response.status_code
            return response.content
        data, _ = timed(f"GET the Excel export ({book.row_count:,} rows)", export, runs=1, floor=floor, goal=None)
        print(f"    {len(data) / 1e3:,.0f} kB", flush=True)
    finally:
        clock.freeze(None)
        db.dispose_engines()
        engine.dispose()


def main() -> None:
    on_each_backend(run, "bench_ledger")


if __name__ == "__main__":
    main()
