"""Suppliers area figures: take_stock per sale, and the in/out ledger of a supplier with many slips (SQLite, or
DATABASE_URL if it points at an empty PostgreSQL database). Prints figures; asserts nothing."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-0123456789")
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")

from sqlalchemy import insert, select  # noqa: E402

from subsidy import demo
from subsidy.supply import batches, ledger
from subsidy.core import clock, db
from subsidy.policy import seasons
from subsidy.models import Registration, Slip, SlipLine, Supplier, Village  # noqa: E402

SLIPS = int(os.environ.get("BENCH_SLIPS", "50000"))


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    db.upgrade(url)
    engine = db.get_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
    with db.transaction(engine) as s:
        supplier = s.execute(select(Supplier).where(Supplier.code == "coal-a")).scalar_one()
        season = seasons.active_season(s)
        reg, village = s.execute(select(Registration, Village).join(Village, Village.id == Registration.village_id)
                                 ).first()
        today = clock.today()
        started = time.perf_counter()
        for n in range(1000):
            batches.take_stock(s, supplier_id=supplier.id, product="briquette", batch_id=None, kg=100)
        took = time.perf_counter() - started
        print(f"take_stock: {took / 1000 * 1000:.2f} ms per sale (1000 in one transaction)")
        base = dict(seq=0, supplier_id=supplier.id, season_id=season.id, registration_id=reg.id,
                    household_id=reg.household_id, town_id=village.town_id, village_id=village.id, status="issued",
                    head_name="测试", id_number="370902199001010000", address="地址", category="ordinary",
                    coal_kg=100, amount_fen=11000, subsidy_fen=3000)
        started = time.perf_counter()
        s.execute(insert(Slip), [{**base, "seq": i + 1, "number": f"B{i:08d}",
                                  "issued_on": today - timedelta(days=i % 60)} for i in range(SLIPS)])
        ids = s.execute(select(Slip.id).where(Slip.supplier_id == supplier.id)).scalars().all()
        s.execute(insert(SlipLine), [dict(slip_id=i, line_no=1, product="briquette", quantity=100,
                                          unit_price_fen=110000, amount_fen=11000, subsidy_fen=3000) for i in ids])
        print(f"inserted {SLIPS} slips in {time.perf_counter() - started:.1f} s")
    with db.new_session(engine) as s:
        started = time.perf_counter()
        book = ledger.build(s, supplier.id, "briquette")
        print(f"ledger.build (page 1 of {book.pages}, {book.row_count} rows): "
              f"{time.perf_counter() - started:.2f} s (scripts/bench_ledger.py: the ledger at scale)")
        started = time.perf_counter()
        data = ledger.to_xlsx(s, book)
        print(f"ledger.to_xlsx: {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        ledger.overview(s)
        print(f"ledger.overview: {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
