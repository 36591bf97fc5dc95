"""Benchmark: the season's acceptance report (考核验收, subsidy/reports/acceptance.py `compute`) over 1,000,000
households and 2,000,000 slips on PostgreSQL, beside the same aggregates written by hand as plain SQL in the same run
(goal: within 2x of the plain SQL). Also the week's dispatch report (调度表) beside its plain SQL.

The data is generated inside PostgreSQL with generate_series (INSERT ... SELECT), in a scratch database of its own
that is dropped at the end (scripts/scratch.py; BENCH_DATABASE_URL or TEST_DATABASE_URL names the server). The
demo district gives the towns, villages, suppliers and season; households, registrations, slips and slip lines are
added in bulk: every household approved, two slips each, one in 40 voided, one in 10 with a stove, categories
spread over the four kinds. Sealed columns hold placeholders (the report never reads them).
BENCH_HOUSEHOLDS and BENCH_SLIPS_PER_HOUSEHOLD scale it down. Figures were taken on a busy shared 2-core machine.
Run: `.venv/bin/python scripts/bench_acceptance.py`
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("BENCH_BACKENDS", "postgresql")

from sqlalchemy import select, text  # noqa: E402

from subsidy import demo  # noqa: E402
from subsidy.core import clock, db  # noqa: E402
from subsidy.models import Season, User  # noqa: E402
from subsidy.core.scope import Scope  # noqa: E402
from subsidy.reports import acceptance, dispatch  # noqa: E402
from subsidy.rules.periods import period_of  # noqa: E402

from scratch import on_each_backend  # noqa: E402

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", 1_000_000))
SLIPS_PER_HOUSEHOLD = int(os.environ.get("BENCH_SLIPS_PER_HOUSEHOLD", 2))

# The rows, generated in the database. :season, :first (the season's first day), :days (its length).
GENERATE = [
    """INSERT INTO household (village_id, head_name, address, category, created_at, updated_at, id_number_sealed,
                              id_number_hmac, id_number_tail, id_number_tail6_hmac, phone_sealed, phone_hmac,
                              phone_tail)
       SELECT v.ids[1 + i % array_length(v.ids, 1)], '户主' || i, '示范村' || i || '号',
              (ARRAY['ordinary','ordinary','ordinary','low_income','five_guarantee','poverty_registered'])[1 + i % 6],
              now(), now(), 'x', 'bench' || i, lpad((i % 10000)::text, 4, '0'), 't6' || i, 'x', 'p' || i, '0000'
       FROM generate_series(1, :households) AS i,
            (SELECT array_agg(id ORDER BY id) AS ids FROM village WHERE zone <> 'ban') AS v""",
    """INSERT INTO registration (household_id, season_id, village_id, coal_kg, stoves, status, decided_at,
                                 reject_reason, sold_coal_kg, sold_stoves, created_at)
       SELECT h.id, :season, h.village_id, 3000, 1, 'approved', now(), '', 0, 0, now()
       FROM household h WHERE h.id_number_hmac LIKE 'bench%'""",
    """INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id, village_id,
                         status, issued_at, issued_on, head_name, address, category, coal_kg, stoves, amount_fen,
                         subsidy_fen, void_reason, set_aside_reason, id_number_sealed, id_number_hmac, id_number_tail,
                         phone_sealed, phone_hmac, phone_tail)
       SELECT 'B' || r.id || '-' || k, r.id * 10 + k, s.id, :season, r.id, r.household_id, v.town_id, r.village_id,
              CASE WHEN (r.id + k) % 40 = 0 THEN 'voided' ELSE 'issued' END, now(),
              CAST(:first AS date) + ((r.id * 7 + k) % :days), '户主', '示范村', h.category, 500 + (r.id % 500),
              CASE WHEN k = 1 AND r.id % 10 = 0 THEN 1 ELSE 0 END,
              (500 + (r.id % 500)) * 1100 + CASE WHEN k = 1 AND r.id % 10 = 0 THEN 120000 ELSE 0 END,
              (500 + (r.id % 500)) * 300 + CASE WHEN k = 1 AND r.id % 10 = 0 THEN 40000 ELSE 0 END,
              '', '', 'x', 'x', '0000', 'x', 'x', '0000'
       FROM registration r JOIN household h ON h.id = r.household_id JOIN village v ON v.id = r.village_id
            CROSS JOIN generate_series(1, :per) AS k
            JOIN supplier s ON s.code = CASE WHEN (r.id + k) % 2 = 0 THEN 'coal-a' ELSE 'coal-b' END
       WHERE h.id_number_hmac LIKE 'bench%'""",
    """INSERT INTO slip_line (slip_id, line_no, product, quantity, unit_price_fen, amount_fen, subsidy_fen,
                              active_key)
       SELECT id, 1, 'briquette', coal_kg, 110000, coal_kg * 1100, coal_kg * 300, 0 FROM slip""",
    """INSERT INTO slip_line (slip_id, line_no, product, quantity, unit_price_fen, amount_fen, subsidy_fen,
                              active_key, serial)
       SELECT id, 2, 'stove', 1, 120000, 120000, 40000, 0, 'S' || id FROM slip WHERE stoves = 1""",
    # Three standing slips in four delivered, 0 to 9 days after their issue (the deliveries section).
    """INSERT INTO delivery (slip_id, supplier_id, town_id, delivered_on, receiver, receiver_is_head, recorded_at)
       SELECT id, supplier_id, town_id, issued_on + (id % 10), '户主', true, now() FROM slip
       WHERE status = 'issued' AND id % 4 <> 0""",
]

# The same figures as `acceptance.compute`, by hand: one plain statement per aggregate.
HAND = [
    "SELECT town_id, coal_kg, stoves FROM town_target WHERE season_id = :season",
    """SELECT v.town_id, r.status, count(*) FROM registration r JOIN village v ON v.id = r.village_id
       WHERE r.season_id = :season GROUP BY v.town_id, r.status""",
    """SELECT town_id, status, count(*), sum(coal_kg), sum(stoves), sum(amount_fen), sum(subsidy_fen) FROM slip
       WHERE season_id = :season GROUP BY town_id, status""",
    """SELECT town_id, count(DISTINCT household_id) FROM slip WHERE season_id = :season AND status = 'issued'
       GROUP BY town_id""",
    """SELECT st.town_id, s.status, sum(st.subsidy_fen) FROM settlement_town st JOIN settlement s
       ON s.id = st.settlement_id WHERE s.season_id = :season GROUP BY st.town_id, s.status""",
    "SELECT town_id, status, count(*) FROM oversight_case WHERE season_id = :season GROUP BY town_id, status",
    """SELECT s.town_id, l.product, sum(l.quantity), sum(l.subsidy_fen) FROM slip_line l JOIN slip s
       ON s.id = l.slip_id WHERE s.season_id = :season AND s.status = 'issued' GROUP BY s.town_id, l.product""",
    """SELECT town_id, category, count(DISTINCT household_id), sum(coal_kg), sum(stoves), sum(subsidy_fen) FROM slip
       WHERE season_id = :season AND status = 'issued' GROUP BY town_id, category""",
    """SELECT category, count(DISTINCT household_id), sum(coal_kg), sum(stoves), sum(subsidy_fen) FROM slip
       WHERE season_id = :season AND status = 'issued' GROUP BY category""",
    """SELECT f.fund, f.name, s.status, sum(f.subsidy_fen) FROM settlement_fund f JOIN settlement s
       ON s.id = f.settlement_id WHERE s.season_id = :season GROUP BY f.fund, f.name, s.status""",
    "SELECT passed, count(*), sum(quantity_kg), sum(sold_kg) FROM batch WHERE season_id = :season GROUP BY passed",
    "SELECT status, finding, count(*) FROM oversight_case WHERE season_id = :season GROUP BY status, finding",
    """SELECT s.supplier_id, s.town_id, s.issued_on, d.delivered_on, count(*) FROM slip s
       LEFT JOIN delivery d ON d.slip_id = s.id WHERE s.season_id = :season AND s.status = 'issued'
       GROUP BY s.supplier_id, s.town_id, s.issued_on, d.delivered_on""",
    """SELECT count(*), coalesce(sum(c.size), 0) FROM callback_sample c JOIN summary m ON m.id = c.summary_id
       WHERE m.season_id = :season""",
    """SELECT count(*), sum(CASE WHEN c.reached THEN 1 ELSE 0 END), sum(CASE WHEN c.discrepancy THEN 1 ELSE 0 END)
       FROM callback c JOIN callback_sample p ON p.id = c.sample_id JOIN summary m ON m.id = p.summary_id
       WHERE m.season_id = :season AND c.done""",
    """SELECT count(*), sum(CASE WHEN passed THEN 0 ELSE 1 END) FROM spot_check WHERE season_id = :season""",
    """SELECT b.supplier_id, count(b.id), count(k.batch_id) FROM batch b LEFT JOIN
       (SELECT batch_id FROM spot_check WHERE season_id = :season GROUP BY batch_id) k ON k.batch_id = b.id
       WHERE b.season_id = :season GROUP BY b.supplier_id""",
]

HAND_DISPATCH = """SELECT town_id, count(*), sum(coal_kg), sum(stoves) FROM slip
    WHERE season_id = :season AND status = 'issued' AND issued_on BETWEEN :first AND :last GROUP BY town_id"""
# The dispatch report's undelivered figure by hand: standing slips issued by the week's end, undelivered by then.
HAND_UNDELIVERED = """SELECT s.town_id, count(*) FROM slip s
    LEFT JOIN delivery d ON d.slip_id = s.id AND d.delivered_on <= :last
    WHERE s.season_id = :season AND s.status = 'issued' AND s.issued_on <= :last AND d.id IS NULL GROUP BY s.town_id"""


def _best(work, runs: int = 2) -> float:
    """The best of `runs` timings (the first warms the cache alike for both)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def run(url: str, label: str) -> None:
    print(f"== {label}: {HOUSEHOLDS:,} households, {HOUSEHOLDS * SLIPS_PER_HOUSEHOLD:,} slips "
          f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    db.upgrade(url)
    engine = db.get_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
    with db.new_session(engine) as s:
        season = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        bureau = s.execute(select(User).where(User.username == "drc")).scalar_one()
    params = {"season": season.id, "first": season.starts_on, "days": (season.ends_on - season.starts_on).days + 1,
              "households": HOUSEHOLDS, "per": SLIPS_PER_HOUSEHOLD}
    start = time.perf_counter()
    with engine.begin() as c:
        for statement in GENERATE:
            c.execute(text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")
    print(f"  generated in {time.perf_counter() - start:.1f} s", flush=True)

    session = db.new_session(engine, scope=Scope.of(bureau))
    try:
        season = session.get(Season, season.id)
        report = acceptance.compute(session, season)
        service = _best(lambda: acceptance.compute(session, season))
        session.rollback()
        with engine.connect() as c:
            hand = _best(lambda: [c.execute(text(q), params).all() for q in HAND])
        print(f"  acceptance report (acceptance.compute)   {service:6.2f} s   | plain SQL, the same aggregates: "
              f"{hand:6.2f} s   ratio {service / hand:4.2f}x   {'OK' if service <= 2 * hand else 'SLOW'}", flush=True)
        print(f"    (slips {report.total['slips']:,}, voided {report.total['voided']:,}, covered "
              f"{report.total['covered']:,} households, subsidy {report.total['subsidy_fen'] / 100:,.2f} yuan)")
        day = clock.today()
        week = period_of("week", day)
        service = _best(lambda: dispatch.dispatch(session, kind="week", day=day))
        session.rollback()
        with engine.connect() as c:
            week_params = {**params, "first": week.first, "last": week.last}
            hand = _best(lambda: c.execute(text(HAND_DISPATCH), week_params).all())
            undelivered = _best(lambda: c.execute(text(HAND_UNDELIVERED), week_params).all())
        print(f"  week's dispatch report (dispatch.dispatch) {service:6.2f} s   | plain SQL, the week's slips: "
              f"{hand:6.2f} s, the undelivered at its end: {undelivered:6.2f} s   (the report also reads "
              f"registrations, deliveries, cases and the season to date, for this week and the last)", flush=True)
    finally:
        session.close()


if __name__ == "__main__":
    on_each_backend(run, "bench_acceptance")
