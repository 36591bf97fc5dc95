"""Benchmark: build, review and settle a month of 200,000 slips, and the progress report over 1,000,000 slips, on
SQLite and (when BENCH_DATABASE_URL or TEST_DATABASE_URL is set) PostgreSQL, each in a scratch database.

Each step is printed with, beside it, the same work written by hand in plain SQL (for the build: the same
conditional UPDATE and totals; for the others: the same aggregate as one query), the floor the service is measured
against (goal: under 5 s and within 2x of the plain SQL). The load average is printed with each backend: the machine
may be shared. Run: `.venv/bin/python scripts/bench_settlement.py`
(BENCH_BACKENDS=sqlite or =postgresql runs one)
(`make bench` runs every scripts/bench_*.py).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

from sqlalchemy import insert, select, text  # noqa: E402

from subsidy import demo
from subsidy.core import clock, db
from subsidy.reports import progress
from subsidy.models import Registration, Season, Slip, Supplier, Town, User, Village  # noqa: E402
from subsidy.rules.numbers import slip_number
from subsidy.core.scope import Scope

from scratch import on_each_backend  # noqa: E402
from subsidy.settlement import statements, summaries
from subsidy.rules import months

MONTH_SLIPS = int(os.environ.get("BENCH_MONTH_SLIPS", 200_000))
TOTAL_SLIPS = int(os.environ.get("BENCH_TOTAL_SLIPS", 1_000_000))
CHUNK = 50_000


def timed(label: str, work, plain_label: str | None = None, plain=None, *, plain_first: bool = False,
          between=None):
    """Time `work`, and beside it `plain` (after it, or before it when the work consumes its input, then
    `between`, untimed, puts the database back as it was)."""
    if plain is not None and plain_first:
        p_start = time.perf_counter()
        plain()
        p_took = time.perf_counter() - p_start
        if between is not None:
            between()
    start = time.perf_counter()
    result = work()
    took = time.perf_counter() - start
    line = f"  {label:<44} {took:7.2f} s"
    if plain is not None:
        if not plain_first:
            p_start = time.perf_counter()
            plain()
            p_took = time.perf_counter() - p_start
        ratio = took / p_took if p_took else float("inf")
        line += f"   | plain SQL {plain_label}: {p_took:6.2f} s   ratio {ratio:4.1f}x"
        line += "   OK" if took < 5 and ratio <= 2 else ("   (<5 s)" if took < 5 else "   SLOW")
    print(line, flush=True)
    return result


def load_slips(engine) -> tuple[str, int]:
    """The demo district, then TOTAL_SLIPS slips bulk-inserted (Core insert executemany); MONTH_SLIPS of them are
    coal-a's in the season's first month, the rest spread over coal-b and the other months."""
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=6)
    with db.new_session(engine) as s:
        season = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        suppliers = {x.code: x for x in s.execute(select(Supplier)).scalars()}
        regs = s.execute(select(Registration.id, Registration.household_id, Registration.village_id, Village.town_id)
                         .join(Village, Village.id == Registration.village_id)
                         .where(Registration.status == "approved")).all()
    first = season.starts_on
    month = months.month_of(first)
    days_in_month = months.month_bounds(month)[1].day
    season_days = (season.ends_on - season.starts_on).days + 1
    now = clock.now()
    rows = []
    seqs = {"coal-a": 0, "coal-b": 0}

    def flush():
        with engine.begin() as connection:
            connection.execute(insert(Slip.__table__), rows)
        rows.clear()

    for n in range(TOTAL_SLIPS):
        if n < MONTH_SLIPS:
            code, day = "coal-a", first + timedelta(days=n % days_in_month)
        else:
            code = "coal-b" if n % 2 else "coal-a"
            day = first + timedelta(days=days_in_month + n % max(1, season_days - days_in_month))
        seqs[code] += 1
        supplier = suppliers[code]
        reg = regs[n % len(regs)]
        kg = 100 + n % 900
        amount = (kg * 110000 * 2 + 1000) // 2000
        rows.append(dict(
            number=slip_number(f"{supplier.slip_prefix}{season.code}", seqs[code]), seq=seqs[code],
            supplier_id=supplier.id, season_id=season.id, registration_id=reg.id, household_id=reg.household_id,
            town_id=reg.town_id, village_id=reg.village_id, status="issued", issued_at=now, issued_on=day,
            head_name="张三", id_number="370902194001019001", phone="13900000000", address="示范村1组1号",
            category="ordinary", coal_kg=kg, stoves=0, amount_fen=amount, subsidy_fen=(kg * 30000 * 2 + 1000) // 2000,
            void_reason="", set_aside_reason=""))
        if len(rows) == CHUNK:
            flush()
    if rows:
        flush()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE slip")
    else:
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    return month, suppliers["coal-a"].id


def user_session(engine, username: str):
    with db.new_session(engine) as s:
        me = s.execute(select(User).where(User.username == username)).scalar_one()
    return db.new_session(engine, write=True, scope=Scope.of(me)), me


def as_user(engine, username, work):
    s, me = user_session(engine, username)
    try:
        return db.run_in_transaction(s, lambda: work(s, me))
    finally:
        s.close()


def run(url: str, label: str) -> None:
    print(f"\n== {label}: {MONTH_SLIPS:,} slips in a month, {TOTAL_SLIPS:,} in the season "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)
    db.upgrade(url)
    engine = db.make_engine(url)
    start = time.perf_counter()
    month, supplier_id = load_slips(engine)
    print(f"  (loading the demo and {TOTAL_SLIPS:,} slips with Core executemany: "
          f"{time.perf_counter() - start:.1f} s)", flush=True)
    first, last = months.month_bounds(month)
    params = {"s": supplier_id, "a": first, "b": last}

    def plain(sql):
        def go():
            with engine.connect() as c:
                return c.execute(text(sql), params).all()
        return go

    # The floor for the build: the same work written by hand, the best way each database allows: the towns, one
    # draft per town, the conditional UPDATE giving each slip its town's summary, and the totals per summary (on
    # PostgreSQL from the UPDATE's RETURNING in the same statement; SQLite has no UPDATE in a CTE, so a second
    # aggregate). Timed first and rolled back; PostgreSQL's dead row versions are then vacuumed (untimed), so the
    # service finds the table as the plain SQL did.
    pickable = ("supplier_id = :s AND issued_on BETWEEN :a AND :b AND summary_id IS NULL AND status = 'issued' "
                "AND set_aside_reason = ''")
    postgresql = engine.dialect.name == "postgresql"

    def plain_build():
        with engine.connect() as c:
            trans = c.begin()
            towns = [r[0] for r in c.execute(text(f"SELECT DISTINCT town_id FROM slip WHERE {pickable}"), params)]
            ids = {}
            for town in towns:
                ids[town] = c.execute(text(
                    "INSERT INTO summary (supplier_id, town_id, season_id, month, status, slip_count, coal_kg, stoves, "
                    "amount_fen, subsidy_fen, created_at) SELECT :s, :t, id, :m, 'draft', 0, 0, 0, 0, 0, :now "
                    "FROM season WHERE is_active RETURNING id"),
                    {**params, "t": town, "m": month, "now": clock.now()}).scalar()
            cases = " ".join(f"WHEN {t} THEN {i}" for t, i in ids.items())
            update = f"UPDATE slip SET summary_id = CASE town_id {cases} END WHERE {pickable}"
            totals = "count(*), sum(coal_kg), sum(stoves), sum(amount_fen), sum(subsidy_fen)"
            if postgresql:
                c.execute(text(f"WITH moved AS ({update} RETURNING summary_id, coal_kg, stoves, amount_fen, "
                               f"subsidy_fen) SELECT summary_id, {totals} FROM moved GROUP BY summary_id"),
                          params).all()
            else:
                c.execute(text(update), params)
                c.execute(text(f"SELECT summary_id, {totals} FROM slip WHERE supplier_id = :s AND issued_on "
                               f"BETWEEN :a AND :b AND summary_id IN ({','.join(map(str, ids.values()))}) "
                               "GROUP BY summary_id"), params).all()
            trans.rollback()

    def vacuum():
        if postgresql:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM slip")

    drafts = timed(
        "build the month's summaries (coal-a)",
        lambda: as_user(engine, "coal-a", lambda s, me: summaries.build_summaries(s, clerk=me, month=month)),
        "same UPDATE + totals", plain_build, plain_first=True, between=vacuum)
    print(f"    {len(drafts)} summaries, {sum(d.slip_count for d in drafts):,} slips", flush=True)
    with db.new_session(engine) as s:
        town_codes = {t.id: t.code for t in s.execute(select(Town)).scalars()}

    def review():
        for d in drafts:
            as_user(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=d.id,
                                                                       password="coal-a-demo"))
            as_user(engine, town_codes[d.town_id], lambda s, me: summaries.approve(s, reviewer=me, summary_id=d.id))
        for role in ("drc", "finance"):
            as_user(engine, role, lambda s, me: summaries.approve_many(s, reviewer=me,
                                                                         summary_ids=[d.id for d in drafts]))
    print(f"    (load average {os.getloadavg()[0]:.1f})", flush=True)
    timed("seal, submit and review town → DRC → finance", review)
    summary_ids = ",".join(str(d.id) for d in drafts)
    statement, _ = timed(
        "settle supplier × month",
        lambda: as_user(engine, "finance", lambda s, me: statements.settle(s, officer=me, supplier_id=supplier_id,
                                                                           month=month)),
        "its summaries' slips GROUP BY town",
        # The statement's aggregate as the service runs it: no index covers slip.summary_id (models/slips.py), so
        # a summary's slips are found by supplier and month, plus any set aside and released from an earlier month.
        plain("SELECT town_id, count(*), sum(coal_kg), sum(stoves), sum(amount_fen), sum(subsidy_fen) FROM slip "
              f"WHERE ((supplier_id = :s AND issued_on BETWEEN :a AND :b AND summary_id IN ({summary_ids})) "
              f"OR (supplier_id = :s AND set_aside_at IS NOT NULL AND summary_id IN ({summary_ids}))) "
              "AND status = 'issued' GROUP BY town_id"))
    with engine.connect() as c:
        expected = c.execute(text("SELECT sum(subsidy_fen) FROM slip WHERE supplier_id = :s AND issued_on "
                                  "BETWEEN :a AND :b"), params).scalar()
    print(f"    statement {statement.number}: subsidy {statement.subsidy_fen:,} fen; slips' sum {expected:,} fen; "
          f"{'equal' if expected == statement.subsidy_fen else 'DIFFERENT'}", flush=True)
    s, _ = user_session(engine, "drc")
    with s:
        rows = timed(f"progress report per town (drc, {TOTAL_SLIPS:,} slips)", lambda: progress.progress(s),
                     "GROUP BY town",
                     plain("SELECT town_id, count(*), sum(coal_kg), sum(stoves), sum(amount_fen), sum(subsidy_fen) "
                           "FROM slip WHERE status = 'issued' GROUP BY town_id"))
        print(f"    {len(rows)} towns, {sum(r.slips for r in rows):,} slips", flush=True)
        timed("per supplier and month", lambda: progress.by_supplier_month(s), "GROUP BY supplier, day",
              plain("SELECT supplier_id, issued_on, count(*), sum(coal_kg), sum(subsidy_fen) FROM slip "
                    "WHERE status = 'issued' GROUP BY supplier_id, issued_on"))
    s, _ = user_session(engine, "caiyuan")
    with s:
        timed("progress report, one town's scope", lambda: progress.progress(s))
    engine.dispose()


def main() -> None:
    on_each_backend(run, "bench_settlement")


if __name__ == "__main__":
    main()
