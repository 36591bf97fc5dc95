"""Benchmark: the anomaly rules (`subsidy anomalies run`, subsidy/oversight/anomalies.py) over 1,000,000 households
and 2,000,000 slips on PostgreSQL, beside a plain GROUP BY of the same data measured in the same run (one pass over
each table: households by phone hash, slips by clerk and status), the floor any set-based rule stands on.

The data is generated with generate_series in a database of the benchmark's own (created on the server of
BENCH_DATABASE_URL or TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432, and dropped at the end): the
demo district for its season, villages and suppliers, 200 clerks, the households (every 1,000th phone and address
shared by three households, the rest unique), one registration each, two slips each over the season's last 120 days
(one in 97 voided, one clerk's one in ten besides, a few bursts of 25 slips within minutes), copies 3-5 scanned
for nine slips in ten, and a delivery two days after the slip for 49 slips in 50 (the rest are `undelivered` once
a week old), loaded with the foreign keys' triggers off and the plain indexes made afterwards. The ID
numbers and phones are placeholders in their sealed columns (no rule decrypts them): only their keyed hashes count.

Prints the first run (every flag new), the second (every flag found again: the ON CONFLICT path, as a nightly run),
each rule alone, and the reference. Goal: a run within 10 s on 1,000,000 households and 2,000,000 slips.
`--households N` for a smaller run (slips are twice as many); `--keep` leaves the database for EXPLAIN.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

import sqlalchemy as sa  # noqa: E402

from subsidy import demo  # noqa: E402
from subsidy.core import db  # noqa: E402
from subsidy.oversight import anomalies  # noqa: E402

GOAL_SECONDS = 10.0
CLERKS = 200
# One slip in 97 voided, and clerk 0 voids one more in ten of theirs (10%: a repeated_voids flag).
VOIDED = f"(n % 97 = 0 OR n % {10 * CLERKS} = 0)"


def sql(connection, statement: str):
    """A statement of this script's own (text(): psycopg would read the % of a modulo as a placeholder)."""
    return connection.execute(sa.text(statement))


def plain_indexes(c, tables: tuple[str, ...]) -> list[str]:
    """The CREATE INDEX statements of the tables' indexes that back no constraint: dropped for the bulk load and
    made again after it (one sort each instead of millions of single inserts)."""
    return sql(c, """
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        """.replace(":tables", "ARRAY[" + ", ".join(f"'{t}'" for t in tables) + "]")).scalars().all()


def generate(engine, households: int) -> None:
    with engine.begin() as c:
        # Generated rows refer to rows that exist: the foreign keys' per-row triggers (14 million lookups for the
        # slips alone) are off for this transaction, as a restore from a dump has them.
        sql(c, "SET LOCAL session_replication_role = replica")
        indexes = plain_indexes(c, ("household", "registration", "slip", "slip_scan", "delivery"))
        for statement in indexes:
            sql(c, "DROP INDEX " + statement.split(" INDEX ", 1)[1].split(" ON ", 1)[0])
        season_id = sql(c, "SELECT id FROM season WHERE is_active").scalar_one()
        supplier_id = sql(c, "SELECT id FROM supplier ORDER BY id LIMIT 1").scalar_one()
        villages = sql(c, "SELECT count(*) FROM village").scalar_one()
        sql(c, f"""
            INSERT INTO app_user (username, display_name, role, supplier_id, password_hash, must_change_password,
                                  is_active, created_at)
            SELECT 'bench-clerk-' || g, '开单员' || g, 'supplier', {supplier_id}, '!', false, true, now()
            FROM generate_series(1, {CLERKS}) g""")
        first_clerk = sql(c, "SELECT min(id) FROM app_user WHERE username LIKE 'bench-clerk-%'").scalar_one()
        # Villages are numbered 1..n in a CTE so that household g lives in village g % n.
        sql(c, f"""
            CREATE TEMP TABLE v AS SELECT row_number() OVER (ORDER BY v.id) - 1 AS k, v.id, v.town_id, v.name
            FROM village v""")
        sql(c, f"""
            INSERT INTO household (village_id, head_name, id_number_sealed, id_number_hmac, id_number_tail,
                                   id_number_tail6_hmac, phone_sealed, phone_hmac, phone_tail, address, address_key, category, created_at,
                                   updated_at)
            SELECT v.id, '户主' || g, 'bench:' || g, md5('id' || g) || md5('id2' || g), right('000' || g, 4),
                   md5('t6' || g) || md5('t6b' || g),
                   'bench:' || g, md5('phone' || CASE WHEN g % 1000 < 3 THEN 's' || (g / 1000) ELSE 'u' || g END)
                                  || md5('p2' || g / 1000),
                   right('000' || g, 4),
                   v.name || (g / 6) || '组' || (g % 6) || '号',
                   CASE WHEN g % 1000 BETWEEN 500 AND 502 THEN v.name || 'x' || (g / 1000) || '组1号'
                        ELSE v.name || (g / 6) || '组' || (g % 6) || '号' END,
                   'ordinary', now(), now()
            FROM generate_series(1, {households}) g JOIN v ON v.k = (CASE WHEN g % 1000 BETWEEN 500 AND 502
                                                                        THEN g / 1000 ELSE g END) % {villages}""")
        sql(c, f"""
            INSERT INTO registration (household_id, season_id, village_id, coal_kg, stoves, status, reject_reason,
                                      sold_coal_kg, sold_stoves, created_at)
            SELECT h.id, {season_id}, h.village_id, 3000, 0, 'approved', '', 2000, 0, now()
            FROM household h WHERE h.head_name LIKE '户主%'""")
        # Two slips a household; slip n is clerk n % CLERKS's, at a moment spread over 120 days (a few bursts:
        # slips whose number ends in 00000-00024 are minutes apart).
        sql(c, f"""
            INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id, village_id,
                              status, issued_at, issued_on, issued_by, head_name, id_number_sealed, id_number_hmac,
                              id_number_tail, phone_sealed, phone_hmac, phone_tail, address, category, coal_kg,
                              stoves, amount_fen, subsidy_fen, void_reason, voided_at, set_aside_reason)
            SELECT 'B' || n, n, {supplier_id}, {season_id}, r.id, h.id, v.town_id, h.village_id,
                   CASE WHEN {VOIDED} THEN 'voided' ELSE 'issued' END, t, (t AT TIME ZONE 'Asia/Shanghai')::date,
                   {first_clerk} + n % {CLERKS}, h.head_name, h.id_number_sealed, h.id_number_hmac, h.id_number_tail,
                   h.phone_sealed, h.phone_hmac, h.phone_tail, h.address, 'ordinary', 1000, 0, 100000, 30000,
                   CASE WHEN {VOIDED} THEN '录入错误' ELSE '' END, CASE WHEN {VOIDED} THEN t END, ''
            FROM (SELECT h.*, s.k, (h.id - min(h.id) OVER ()) * 2 + s.k AS n FROM household h
                  CROSS JOIN generate_series(0, 1) s(k) WHERE h.head_name LIKE '户主%') h
            JOIN registration r ON r.household_id = h.id
            JOIN v ON v.id = h.village_id
            CROSS JOIN LATERAL (SELECT CASE WHEN n % 100000 < 25 * {CLERKS}
                                            THEN now() - interval '40 days' + (n % 100000 / {CLERKS}) * interval '20 seconds'
                                            ELSE now() - interval '120 days' + (n * 5184.0 / {households * 2}) * interval '1000 seconds'
                                       END AS t) moment""")
        sql(c, """
            INSERT INTO slip_scan (slip_id, copy_no, scanned_at)
            SELECT s.id, c, s.issued_at + interval '3 days' FROM slip s CROSS JOIN generate_series(3, 5) c
            WHERE s.id % 10 <> 0""")
        sql(c, """
            INSERT INTO delivery (slip_id, supplier_id, town_id, delivered_on, receiver, receiver_is_head, recorded_at)
            SELECT s.id, s.supplier_id, s.town_id, s.issued_on + 2, s.head_name, true, s.issued_at + interval '2 days'
            FROM slip s WHERE s.id % 50 <> 0""")
        sql(c, "DROP TABLE v")
        for statement in indexes:
            sql(c, statement)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")


def timed(engine, work) -> tuple[float, object]:
    with db.new_session(engine, write=True) as session:
        started = time.perf_counter()
        result = work(session)
        session.commit()
        return time.perf_counter() - started, result


def reference(engine) -> float:
    """One plain GROUP BY over each table: the households by phone hash, the slips by clerk and status."""
    with engine.connect() as c:
        started = time.perf_counter()
        sql(c, "SELECT phone_hmac, count(*) FROM household GROUP BY phone_hmac HAVING count(*) >= 3").all()
        sql(c, "SELECT issued_by, status, count(*) FROM slip GROUP BY issued_by, status").all()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated database (its name is printed)")
    args = parser.parse_args()
    server = db.normalise_url(os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
                              or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"bench_anomalies_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    try:
        db.upgrade(url)
        engine = db.get_engine(url)
        with db.transaction(engine) as s:
            demo.load(s, households_per_village=2)
        started = time.perf_counter()
        generate(engine, args.households)
        with engine.connect() as c:
            counts = sql(c, "SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM slip), "
                                       "(SELECT count(*) FROM slip_scan), (SELECT count(*) FROM delivery)").one()
        print(f"generated {counts[0]:,} households, {counts[1]:,} slips, {counts[2]:,} scans, "
              f"{counts[3]:,} deliveries in "
              f"{time.perf_counter() - started:.0f} s")
        first, result = timed(engine, lambda s: anomalies.run(s))
        print(f"  anomalies run, first (every flag new):   {first:6.2f} s  "
              + ", ".join(f"{k} {v}" for k, v in result.raised.items()))
        second, result = timed(engine, lambda s: anomalies.run(s))
        print(f"  anomalies run, again (flags found again): {second:6.2f} s  "
              + ", ".join(f"{k} {v}" for k, v in result.open.items()) + " open")
        for rule in anomalies.RULES:
            alone, _ = timed(engine, lambda s, rule=rule: anomalies.run(s, rules=[rule]))
            print(f"    {rule:<16} alone {alone:6.2f} s")
        plain = reference(engine)
        print(f"  reference, a plain GROUP BY of households and of slips: {plain:6.2f} s "
              f"(the run is {max(first, second) / plain:.1f} times that)")
        verdict = "within" if max(first, second) <= GOAL_SECONDS else "OVER"
        print(f"  goal: a run within {GOAL_SECONDS:.0f} s: {verdict}")
    finally:
        db.dispose_engines()
        if args.keep:
            print(f"kept the database {name}: drop it with DROP DATABASE \"{name}\"")
        else:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
