"""Benchmark: the supplier's delivery list (配送清单) at 1,000,000 registrations on PostgreSQL.

Builds a database of its own (dropped at the end): the demo district with 40 more villages in each town, and
1,000,000 households with approved registrations spread over them (`generate_series`; ID numbers and phones are
sealed once in Python for a thousand values and reused, the lookup hashes are md5s: nothing here looks them up), half
of those in coal-a's towns sold to coal-a on a slip each, half of those slips delivered. Then, for the supplier coal-a
(contracts in three towns: about 430,000 registrations in its list):

- the service (`deliveries.delivery_list`) and the page and the API through the app in process, each the median of
  several runs of the first page, "not yet delivered", one village, a page 200 deep by number (OFFSET) and the
  page after it by cursor (paging.fetch: the list's key, village and id, from the index);
- beside them, in the same run, a bare psycopg query of the same first page and its capped count (the floor).

Goal: page and API under 100 ms server time. `--households N` for other sizes, `--database-url` for the server
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres; only its host is used).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from subsidy.core import db, vault  # noqa: E402

RUNS = 7
VILLAGES_PER_TOWN = 40
SEALED = 1000


def median_ms(work, runs: int = RUNS) -> float:
    work()  # warm: plans, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def prepare(url: str, households: int) -> None:
    from subsidy import demo

    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
    ids = [vault.seal("id_number", f"370911{19400101 + n:08d}{n % 10}{n % 9}{n % 8}X"[:18]) for n in range(SEALED)]
    phones = [vault.seal("phone", f"139{n:08d}") for n in range(SEALED)]
    started = time.perf_counter()
    with psycopg.connect(db.normalise_url(url).replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute("CREATE TEMP TABLE sealed_values (n int PRIMARY KEY, id_number text, phone text)")
        with c.cursor().copy("COPY sealed_values (n, id_number, phone) FROM STDIN") as copy:
            for n in range(SEALED):
                copy.write_row((n, ids[n], phones[n]))
        c.execute("""
            INSERT INTO village (town_id, code, name, zone)
            SELECT t.id, t.code || '-b' || g, t.name || '压测' || g || '村', 'normal'
            FROM town t, generate_series(1, %s) g""", (VILLAGES_PER_TOWN,))
        c.execute("CREATE TEMP TABLE bench_village AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, town_id "
                  "FROM village WHERE code LIKE '%-b%'")
        c.execute("""
            INSERT INTO household (village_id, head_name, id_number_sealed, id_number_hmac, id_number_tail,
                                   id_number_tail6_hmac, phone_sealed, phone_hmac, phone_tail, address, category,
                                   created_at, updated_at)
            SELECT v.id, '压测户' || g, s.id_number, md5('id' || g), lpad((g %% 10000)::text, 4, '0'), md5('t6' || g),
                   s.phone, md5('ph' || g), lpad((g %% 10000)::text, 4, '0'), '压测地址' || g || '号', 'ordinary',
                   now(), now()
            FROM generate_series(1, %s) g
            JOIN bench_village v ON v.k = g %% (SELECT count(*) FROM bench_village)
            JOIN sealed_values s ON s.n = g %% %s""", (households, SEALED))
        c.execute("""
            INSERT INTO registration (household_id, season_id, village_id, coal_kg, stoves, status, sold_coal_kg,
                                      sold_stoves, reject_reason, created_at)
            SELECT h.id, (SELECT id FROM season WHERE is_active), h.village_id, 3000, (h.id % 3 = 0)::int,
                   'approved', CASE WHEN h.id % 2 = 0 THEN 3000 ELSE 0 END, 0, '', now()
            FROM household h WHERE h.head_name LIKE '压测户%'""")
        # coal-a sells the even registrations of its towns, a slip each; every other slip is delivered.
        c.execute("""
            INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id, village_id,
                              status, issued_at, issued_on, head_name, id_number_sealed, id_number_hmac,
                              id_number_tail, phone_sealed, phone_hmac, phone_tail, address, category, coal_kg, stoves,
                              amount_fen, subsidy_fen, void_reason, set_aside_reason)
            SELECT 'BENCH-' || r.id, 100000 + r.id, sp.id, r.season_id, r.id, h.id, v.town_id, v.id, 'issued', now(),
                   current_date - (r.id % 10)::int, h.head_name, h.id_number_sealed, h.id_number_hmac,
                   h.id_number_tail, h.phone_sealed, h.phone_hmac, h.phone_tail, h.address, h.category, 3000, 0,
                   330000, 90000, '', ''
            FROM registration r JOIN household h ON h.id = r.household_id JOIN village v ON v.id = r.village_id
            JOIN supplier sp ON sp.code = 'coal-a'
            WHERE r.sold_coal_kg > 0 AND h.head_name LIKE '压测户%'
              AND v.town_id IN (SELECT town_id FROM contract WHERE supplier_id = sp.id)""")
        c.execute("""
            INSERT INTO delivery (slip_id, supplier_id, town_id, delivered_on, receiver, receiver_is_head, recorded_at)
            SELECT id, supplier_id, town_id, issued_on + 2, head_name, true, now() FROM slip
            WHERE number LIKE 'BENCH-%' AND id % 2 = 0""")
        # The app checks its keys on the oldest and newest row of each sealed table (subsidy/core/datakeys.py): give those
        # their true lookup hashes.
        for table, order in (("household", "DESC"), ("slip", "DESC"), ("slip", "ASC")):
            row_id, id_number, phone = c.execute(f"SELECT id, id_number_sealed, phone_sealed FROM {table} "
                                                 f"ORDER BY id {order} LIMIT 1").fetchone()
            c.execute(f"UPDATE {table} SET id_number_hmac = %s, phone_hmac = %s WHERE id = %s", (
                vault.vault().blind("id_number", vault.open_sealed("id_number", id_number)),
                vault.vault().blind("phone", vault.open_sealed("phone", phone)), row_id))
        c.execute("VACUUM ANALYZE")
        counts = c.execute("SELECT (SELECT count(*) FROM registration), (SELECT count(*) FROM slip), "
                           "(SELECT count(*) FROM delivery)").fetchone()
    engine.dispose()
    print(f"generated {counts[0]:,} registrations, {counts[1]:,} slips, {counts[2]:,} deliveries "
          f"in {time.perf_counter() - started:.0f} s")


BARE_PAGE = """
    SELECT r.id, r.village_id, r.coal_kg, r.sold_coal_kg, r.stoves, r.sold_stoves, h.head_name, h.id_number_sealed,
           h.phone_sealed, h.address
    FROM registration r JOIN household h ON h.id = r.household_id
    WHERE r.village_id = ANY(%(villages)s) AND r.season_id = %(season)s AND r.status = 'approved' AND r.coal_kg > 0
    ORDER BY r.village_id, r.id LIMIT 50"""
BARE_COUNT = """
    SELECT count(*) FROM (SELECT 1 FROM registration r WHERE r.village_id = ANY(%(villages)s)
      AND r.season_id = %(season)s AND r.status = 'approved' AND r.coal_kg > 0 LIMIT 1001) capped"""


def measure(url: str) -> dict[str, float]:
    from litestar.testing import TestClient
    from sqlalchemy import select

    from subsidy.core.scope import Scope
    from subsidy.delivery import deliveries
    from subsidy.models import User, Village
    from web.app import create_app

    os.environ["DATABASE_URL"] = url
    from subsidy.core.settings import get_settings
    get_settings.cache_clear()
    engine = db.get_engine(url)
    with db.new_session(engine) as s:
        clerk = s.execute(select(User).where(User.username == "coal-a")).scalar_one()
        s.expunge(clerk)
    scoped = db.new_session(engine, scope=Scope.of(clerk))
    r = deliveries.reach(scoped, clerk)
    village = next(v for v, (_, name) in r.villages.items() if "压测" in name)
    db.end_read(scoped)
    figures = {}

    def service(**kw):
        def work():
            deliveries.delivery_list(scoped, clerk, **kw)
            db.end_read(scoped)
        return work

    figures["service, first page"] = median_ms(service())
    figures["service, not yet delivered"] = median_ms(service(pending=True))
    figures["service, one village, not yet delivered"] = median_ms(service(village_id=village, pending=True))
    figures["service, page 200 (by number: OFFSET)"] = median_ms(service(page=200))
    deep = deliveries.delivery_list(scoped, clerk, page=200, count=False).next
    db.end_read(scoped)
    figures["service, page 201 by cursor"] = median_ms(service(after=deep))
    figures["service, page 201 by cursor, no count"] = median_ms(service(after=deep, count=False))
    scoped.close()

    with psycopg.connect(db.normalise_url(url).replace("postgresql+psycopg", "postgresql")) as c:
        params = {"villages": sorted(r.villages), "season": r.season_id}

        def bare():
            c.execute(BARE_PAGE, params).fetchall()
            c.execute(BARE_COUNT, params).fetchone()
            c.rollback()
        figures["bare psycopg, first page + capped count"] = median_ms(bare)

    with TestClient(app=create_app()) as client:
        token = client.post("/api/v1/auth/token", json={"username": "coal-a", "password": "coal-a-demo"}).json()
        api = {"Authorization": f"Bearer {token['token']}"}
        assert client.get("/api/v1/deliveries", headers=api).status_code == 200
        figures["API, first page"] = median_ms(lambda: client.get("/api/v1/deliveries", headers=api))
        figures["API, not yet delivered"] = median_ms(lambda: client.get("/api/v1/deliveries?pending=1", headers=api))
        figures["API, page 201 by cursor"] = median_ms(
            lambda: client.get(f"/api/v1/deliveries?after={deep}", headers=api))
        client.get("/login")
        login = client.post("/login", data={"username": "coal-a", "password": "coal-a-demo",
                                            "_csrf_token": client.cookies.get("csrftoken")})
        assert login.status_code in (200, 303), login.text[:200]
        assert client.get("/deliveries").status_code == 200
        figures["page, not yet delivered"] = median_ms(lambda: client.get("/deliveries"))
        figures["page, one village"] = median_ms(lambda: client.get(f"/deliveries?village_id={village}"))
    db.dispose_engines()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    server = db.normalise_url(args.database_url).rsplit("/", 1)[0]
    name = f"bench_deliveries_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server + "/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a busy machine: figures move)")
    try:
        url = f"{server}/{name}"
        prepare(url, args.households)
        figures = measure(url)
        width = max(map(len, figures))
        for label, ms in figures.items():
            print(f"  {label:<{width}}  {ms:7.1f} ms (median of {RUNS})")
    finally:
        db.dispose_engines()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    slowest = max(v for k, v in figures.items() if k.startswith(("API", "page")))
    if slowest > 100:
        print(f"SLOWER THAN 100 ms: {slowest:.0f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
