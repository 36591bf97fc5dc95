"""Benchmark: slips issued per second through the API by 16 concurrent clients, on SQLite and on PostgreSQL.

Starts the app with uvicorn (one server process, then two) on a loopback port against a fresh database (a SQLite temp
file; a scratch PostgreSQL database when BENCH_DATABASE_URL or TEST_DATABASE_URL is set), loads the demo and a few
thousand extra households with approved registrations, then 16 threads POST /api/v1/slips for ~10 s. Clients pick
registrations at random, so several often sell to the same household at once, and households fill up (those sales are
refused, 422).
Prints slips/s, p50/p99 latency, and checks that no registration is oversold and that slip numbers have no gaps.

Goal: >= 200 slips/s on PostgreSQL with p99 < 200 ms on a 2-core machine.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
import httpx  # noqa: E402

from scratch import on_each_backend  # noqa: E402
import sqlalchemy as sa  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "4000"))
# Server processes, as `subsidy serve --workers N`: one as `make run`, then two, one per core, as a PostgreSQL
# deployment would run (BENCH_WORKERS=1 for the first figure only). Each count is measured on the same database.
WORKERS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
KG_PER_SLIP = 500
SUPPLIERS = ("coal-a", "coal-b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str) -> None:
    """Migrate, load the demo, add households with approved registrations and plenty of stock (Core inserts)."""
    from subsidy import demo
    from subsidy.core import db
    from subsidy.policy import seasons
    from subsidy.rules.idnumbers import make_id_number
    from subsidy.models import Batch, Household, Registration, Village

    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
        season = seasons.active_season(s)
        villages = s.execute(sa.select(Village.id).where(Village.code.in_(["dongguan", "yingxi", "qiaogou"]))) \
            .scalars().all()
        s.execute(sa.update(Batch).values(quantity_kg=100_000_000))
        rows = []
        for n in range(HOUSEHOLDS):
            rows.append({"village_id": villages[n % len(villages)], "head_name": f"压测户{n}",
                         "id_number": make_id_number("370911", date(1940, 1, 1) + timedelta(days=n // 1000),
                                                     f"{n % 1000:03d}"),
                         "phone": "", "address": f"压测地址{n}", "category": "ordinary"})
        s.execute(sa.insert(Household), rows)
        ids = s.execute(sa.select(Household.id, Household.village_id).where(Household.head_name.like("压测户%"))).all()
        s.execute(sa.insert(Registration), [
            {"household_id": h, "season_id": season.id, "village_id": v, "coal_kg": 3000, "stoves": 0,
             "status": "approved"} for h, v in ids])
    engine.dispose()


def registration_ids(url: str) -> list[int]:
    from subsidy.core import db
    from subsidy.models import Household, Registration

    engine = db.make_engine(url)
    with engine.connect() as c:
        ids = c.execute(sa.select(Registration.id).join(Household, Household.id == Registration.household_id)
                        .where(Household.head_name.like("压测户%"))).scalars().all()
    engine.dispose()
    return list(ids)


def verify(url: str) -> dict:
    from subsidy.core import db

    engine = db.make_engine(url)
    with engine.connect() as c:
        oversold = c.execute(sa.text(
            "SELECT count(*) FROM registration WHERE sold_coal_kg > coal_kg OR sold_coal_kg > 3000")).scalar()
        mismatched = c.execute(sa.text(
            "SELECT count(*) FROM registration r WHERE r.sold_coal_kg <> (SELECT coalesce(sum(s.coal_kg), 0) "
            "FROM slip s WHERE s.registration_id = r.id AND s.status = 'issued')")).scalar()
        over_by_slips = c.execute(sa.text(
            "SELECT count(*) FROM (SELECT registration_id, sum(coal_kg) AS kg FROM slip WHERE status = 'issued' "
            "GROUP BY registration_id) t JOIN registration r ON r.id = t.registration_id WHERE t.kg > r.coal_kg"))\
            .scalar()
        gaps = c.execute(sa.text(
            "SELECT count(*) FROM (SELECT supplier_id, season_id, count(*) AS n, max(seq) AS m FROM slip "
            "GROUP BY supplier_id, season_id) t WHERE n <> m")).scalar()
        slips = c.execute(sa.text("SELECT count(*) FROM slip")).scalar()
    engine.dispose()
    return {"slips": slips, "oversold": oversold, "sold_mismatch": mismatched, "over_by_slips": over_by_slips,
            "number_gaps": gaps}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and all its live descendants (the uvicorn workers), in seconds,
    from Linux /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        used[child] = (int(fields[11]) + int(fields[12])) / ticks
    tree, total = {pid}, 0.0
    for _ in range(4):  # a few levels are plenty: uvicorn → workers (→ multiprocessing helpers)
        tree |= {child for child, parent in parents.items() if parent in tree}
    return sum(used.get(p, 0.0) for p in tree)


def postgres_cpu_seconds() -> float:
    """User + system CPU time so far of every PostgreSQL server process on this machine (0 when none is local)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1].startswith("postgres"):
            fields = tail.split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run(label: str, url: str) -> None:
    print(f"-- {label}: preparing {HOUSEHOLDS} households ...", flush=True)
    prepare(url)
    regs = registration_ids(url)
    for workers in WORKERS:
        measure(label, url, regs, workers)


def measure(label: str, url: str, regs: list[int], workers: int) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + uuid.uuid4().hex),
           "SUBSIDY_AUDIT_KEY": os.environ["SUBSIDY_AUDIT_KEY"],
           "SUBSIDY_ARGON2_TIME_COST": "1", "SUBSIDY_ARGON2_MEMORY_KIB": "8192"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        tokens = {}
        for name in SUPPLIERS:
            r = httpx.post(base + "/api/v1/auth/token", json={"username": name, "password": f"{name}-demo"})
            r.raise_for_status()
            tokens[name] = r.json()["token"]
        latencies: list[float] = []
        counts = {"201": 0, "422": 0, "other": 0}
        lock = threading.Lock()
        start_barrier = threading.Barrier(CLIENTS + 1)
        stop_at = [0.0]

        def client(i: int) -> None:
            rng = random.Random(i)
            name = SUPPLIERS[i % len(SUPPLIERS)]
            local_lat, local = [], {"201": 0, "422": 0, "other": 0}
            # One keep-alive connection per client, on the standard library's http.client: the load generator shares
            # the two cores with the server and PostgreSQL, and httpx costs about three times its CPU per request.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": f"Bearer {tokens[name]}", "Content-Type": "application/json"}
            try:
                start_barrier.wait()
                while time.perf_counter() < stop_at[0]:
                    body = json.dumps({"registration_id": rng.choice(regs),
                                       "lines": [{"product": "briquette", "quantity": KG_PER_SLIP}]})
                    t0 = time.perf_counter()
                    conn.request("POST", "/api/v1/slips", body, {**headers, "Idempotency-Key": uuid.uuid4().hex})
                    response = conn.getresponse()
                    text = response.read()
                    local_lat.append(time.perf_counter() - t0)
                    key = str(response.status) if response.status in (201, 422) else "other"
                    local[key] += 1
                    if key == "other" and local["other"] <= 3:
                        print(f"   unexpected {response.status}: {text[:200]!r}", flush=True)
            finally:
                conn.close()
            with lock:
                latencies.extend(local_lat)
                for k, v in local.items():
                    counts[k] += v

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        stop_at[0] = time.perf_counter() + SECONDS
        cpu_before, db_before, own_before = cpu_seconds(server.pid), postgres_cpu_seconds(), sum(os.times()[:2])
        started = time.perf_counter()
        start_barrier.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before
        db_cpu = postgres_cpu_seconds() - db_before
        client_cpu = sum(os.times()[:2]) - own_before
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    checks = verify(url)
    processes = f"{workers} server process{'es' if workers > 1 else ''}"
    print(f"{label}: {CLIENTS} clients, {processes}, {elapsed:.1f} s: {counts['201'] / elapsed:.0f} slips/s "
          f"({counts['201']} issued, {counts['422']} refused as full, {counts['other']} other), "
          f"{len(latencies) / elapsed:.0f} requests/s; latency p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, "
          f"mean {statistics.mean(latencies) * 1000:.1f} ms; "
          f"server CPU {server_cpu / max(1, len(latencies)) * 1000:.1f} ms per request "
          f"({server_cpu / elapsed * 100:.0f}% of a core)"
          + (f", PostgreSQL {db_cpu / max(1, len(latencies)) * 1000:.1f} ms ({db_cpu / elapsed * 100:.0f}%)"
             if label == "postgresql" else "")
          + f", clients {client_cpu / max(1, len(latencies)) * 1000:.1f} ms ({client_cpu / elapsed * 100:.0f}%)")
    ok = checks["oversold"] == checks["sold_mismatch"] == checks["over_by_slips"] == checks["number_gaps"] == 0
    print(f"{label}: check {checks} -> {'OK: nothing oversold, numbers gapless' if ok else 'FAILED'}", flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> None:
    on_each_backend(lambda url, label: run(label.lower(), url), "bench_slips")


if __name__ == "__main__":
    main()
