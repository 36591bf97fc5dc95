"""Benchmark: slips issued per second through the API by 16 concurrent clients, on SQLite and on PostgreSQL.

Starts the app with uvicorn (one server process, then two) on a loopback port against a fresh database (a SQLite temp
file; a scratch PostgreSQL database when BENCH_DATABASE_URL or TEST_DATABASE_URL is set), loads the demo and a few
thousand extra households with approved registrations, then 16 threads POST /api/v1/slips for ~10 s, spread over the
demo's two coal suppliers (BENCH_SUPPLIERS=N for more). Clients pick registrations at random, so several often sell to
the same household at once, and households fill up (those sales are refused, 422).
Prints slips/s, p50/p99 latency, and checks that no registration is oversold and that slip numbers have no gaps.

Goal: >= 200 slips/s on PostgreSQL with p99 < 200 ms on a 2-core machine.

BENCH_PROFILE=OUT runs the server under cProfile (every thread: scripts/profiled_server.py) and writes
OUT.<backend>.<processes>.prof; the figures are then slower than without it. BENCH_SPY=OUT samples the server with
py-spy instead, at its own speed (scripts/spy_report.py).

On PostgreSQL, when pgbench is on PATH (BENCH_PGBENCH=0 skips it, or names the binary), each server-process count also
measures the machine's plain write rate as a reference in the same run: `pgbench -N` (BENCH_PGBENCH_CLIENTS clients,
default 4, on a scratch pgbench database on the same server) alone, then the sales again with that pgbench beside them.
It prints sales/s per 1,000 pgbench transactions/s alone (meant to compare runs on a machine whose speed varies; on a
shared machine the two are not measured in the same seconds, so run it several times), sales/s and pgbench's
transactions/s beside each other as shares of alone, and how many of the bench database's sessions were waiting on a
lock (pg_stat_activity sampled every 50 ms) with the two statements they most often waited in: a queue on a shared row
(the supplier's number counter, or the audit head row of the code before the sealer) shows there by its statement.

`--tree DIR` runs the server and the preparation from another checkout (e.g. a `git worktree` of an older commit), so
that the same script measures before and after a change: `python scripts/bench_slips.py --tree /work/bench-before`.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
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
if "--tree" in sys.argv:  # before anything imports subsidy: the code measured is the other checkout's
    ROOT = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    del sys.argv[sys.argv.index("--tree"):sys.argv.index("--tree") + 2]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
import httpx  # noqa: E402

import subsidy  # noqa: E402  (from ROOT; scratch's own path insert then finds it already imported)
from scratch import on_each_backend  # noqa: E402
import spy_report  # noqa: E402  (scripts/, beside this file)
import sqlalchemy as sa  # noqa: E402

assert Path(subsidy.__file__).resolve().is_relative_to(ROOT), (subsidy.__file__, ROOT)

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "4000"))
# Server processes, as `subsidy serve --workers N`: one as `make run`, then two, one per core, as a PostgreSQL
# deployment would run (BENCH_WORKERS=1 for the first figure only). Each count is measured on the same database.
WORKERS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
KG_PER_SLIP = 500
# The demo district's two coal suppliers; BENCH_SUPPLIERS=N adds copies of coal-a (its contracts, a batch and an
# account with coal-a's password) up to N suppliers, for a city with more of them. Each supplier's sales take turns on
# its own number counter and batch, so with two suppliers at most two sales are past that point at once; any queue
# shared by all suppliers (as the audit head row was) shows only when there are more.
SUPPLIERS = ("coal-a", "coal-b") + tuple(f"coal-x{n}" for n in range(int(os.environ.get("BENCH_SUPPLIERS", "2")) - 2))


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
        add_suppliers(s.connection(), SUPPLIERS[2:])
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


def add_suppliers(c: sa.Connection, codes: tuple[str, ...]) -> None:
    """Copies of the demo's coal-a, one per code: supplier row, contracts, coal batch and supplier account (Core, so
    that the code measured with --tree needs nothing of this script's models but their tables)."""
    from subsidy.models import Batch, Contract, Supplier, User
    from subsidy.rules.idnumbers import make_credit_code

    supplier_t, contract_t, batch_t, user_t = (m.__table__ for m in (Supplier, Contract, Batch, User))
    model = c.execute(sa.select(supplier_t).where(supplier_t.c.code == "coal-a")).mappings().one()
    for n, code in enumerate(codes):
        row = {k: v for k, v in model.items() if k != "id"} | {
            "code": code, "name": f"压测煤炭公司{n}", "slip_prefix": chr(ord("D") + n) if n < 23 else f"X{n}",
            "credit_code": make_credit_code(f"91370902MA3D{n:04d}X"[:17])}
        new_id = c.execute(sa.insert(supplier_t).values(row).returning(supplier_t.c.id)).scalar_one()
        for table in (contract_t, batch_t, user_t):
            query = sa.select(table).where(table.c.supplier_id == model["id"])
            if table is user_t:  # the account coal-a itself: the demo has a second clerk there (coal-a2)
                query = query.where(user_t.c.username == "coal-a")
            rows = c.execute(query).mappings().all()
            for old in rows:
                copy = {k: v for k, v in old.items() if k != "id"} | {"supplier_id": new_id}
                if table is user_t:
                    copy |= {"username": code, "display_name": row["name"]}
                c.execute(sa.insert(table).values(copy))


def password(supplier: str) -> str:
    return f"{'coal-a' if supplier.startswith('coal-x') else supplier}-demo"


def registration_ids(url: str) -> list[tuple[int, str]]:
    """(registration id, the household's ID number) of the benchmark's buyers: a sale sends both (CONTRACT.md)."""
    from subsidy.core import db
    from subsidy.models import Household, Registration

    engine = db.make_engine(url)
    with engine.connect() as c:
        rows = c.execute(sa.select(Registration.id, Household.id_number)
                         .join(Household, Household.id == Registration.household_id)
                         .where(Household.head_name.like("压测户%"))).all()
    engine.dispose()
    return [tuple(row) for row in rows]


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


class PgBench:
    """`pgbench -N` on a scratch database of its own on the benchmark's PostgreSQL server: the machine's plain write
    rate (an UPDATE, two SELECTs and an INSERT per transaction, no shared row), measured in the same run as the sales."""

    CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", "4"))

    def __init__(self, binary: str, url: str) -> None:
        self.binary = binary
        address = sa.engine.make_url(url)
        self.name = f"bench_pgbench_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(address, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.args = ["-h", address.host or "127.0.0.1", "-p", str(address.port or 5432), "-U",
                     address.username or "postgres"]
        self.env = {**os.environ, **({"PGPASSWORD": address.password} if address.password else {})}
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        subprocess.run([binary, "-i", "-q", "-s", "5", *self.args, self.name], env=self.env, check=True,
                       capture_output=True)

    def start(self, seconds: float) -> subprocess.Popen:
        return subprocess.Popen([self.binary, "-N", "-n", "-c", str(self.CLIENTS), "-j", "1", "-T",
                                 str(max(1, round(seconds))), *self.args, self.name], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def tps(process: subprocess.Popen) -> float:
        out, err = process.communicate(timeout=120)
        for line in out.splitlines():
            if line.startswith("tps = "):
                return float(line.split()[2])
        raise RuntimeError(f"pgbench printed no tps: {out[-500:]} {err[-500:]}")

    def alone(self, seconds: float) -> float:
        return self.tps(self.start(seconds))

    def drop(self) -> None:
        with self.admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def pgbench_binary() -> str | None:
    choice = os.environ.get("BENCH_PGBENCH", "pgbench")
    return None if choice == "0" else shutil.which(choice)


class LockWaits(threading.Thread):
    """Samples the bench database's sessions every 50 ms while the sales run: how many are active, how many wait on a
    lock (a row lock shows as waiting for the holder's transaction), and in which statement they wait most often."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.stop = threading.Event()
        self.samples, self.active, self.waiting = 0, 0, 0
        self.statements: dict[str, int] = {}

    def run(self) -> None:
        with self.engine.connect() as c:
            c.exec_driver_sql("SET application_name = 'bench_lock_sampler'")
            c.commit()
            while not self.stop.wait(0.05):
                rows = c.execute(sa.text(
                    "SELECT wait_event_type = 'Lock' AS waits, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
                    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state = 'active'")).all()
                c.commit()
                self.samples += 1
                self.active += len(rows)
                for waits, query in rows:
                    if waits:
                        self.waiting += 1
                        self.statements[query] = self.statements.get(query, 0) + 1
        self.engine.dispose()

    def finish(self) -> str:
        self.stop.set()
        self.join()
        n = max(1, self.samples)
        line = f"on average {self.waiting / n:.1f} of {self.active / n:.1f} active sessions waiting on a lock"
        top = sorted(self.statements.items(), key=lambda kv: -kv[1])[:2]
        for query, count in top:
            line += f"; {count * 100 // max(1, self.waiting)}% of those in: {query}"
        return line


def run(label: str, url: str) -> None:
    print(f"-- {label}: preparing {HOUSEHOLDS} households (code from {ROOT}) ...", flush=True)
    prepare(url)
    regs = registration_ids(url)
    binary = pgbench_binary() if label == "postgresql" else None
    if label == "postgresql" and not binary:
        print("   (pgbench reference skipped: BENCH_PGBENCH=0, or no pgbench on PATH; BENCH_PGBENCH names it)")
    pgbench = PgBench(binary, url) if binary else None
    try:
        for workers in WORKERS:
            sales = measure(label, url, regs, workers)["sales"]
            if pgbench:
                alone = pgbench.alone(SECONDS)
                print(f"{label}: pgbench -N alone, {pgbench.CLIENTS} clients, {SECONDS:.0f} s: {alone:.0f} tps",
                      flush=True)
                together = measure(label + " beside pgbench", url, regs, workers, pgbench)
                print(f"{label}: {workers} server process{'es' if workers > 1 else ''}: "
                      f"{sales / alone * 1000:.1f} sales/s per 1,000 pgbench tps alone ({sales:.0f} / {alone:.0f}); "
                      f"beside each other: sales {together['sales']:.0f}/s ({together['sales'] / sales * 100:.0f}% "
                      f"of alone), pgbench {together['pgbench']:.0f} tps ({together['pgbench'] / alone * 100:.0f}% "
                      f"of alone)", flush=True)
    finally:
        if pgbench:
            pgbench.drop()


def measure(label: str, url: str, regs: list[tuple[int, str]], workers: int, pgbench: PgBench | None = None) -> dict:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + uuid.uuid4().hex),
           "SUBSIDY_AUDIT_KEY": os.environ["SUBSIDY_AUDIT_KEY"],
           "SUBSIDY_ARGON2_TIME_COST": "1", "SUBSIDY_ARGON2_MEMORY_KIB": "8192", "PYTHONPATH": str(ROOT)}
    # BENCH_PROFILE=OUT: the server runs under cProfile, every thread (scripts/profiled_server.py), and writes
    # OUT.<label>.<workers>.prof when it stops; read it with `python -m pstats`.
    profile = os.environ.get("BENCH_PROFILE")
    wrapper = ([str(Path(__file__).resolve().parent / "profiled_server.py"),
                f"{profile}.{label.replace(' ', '-')}.{workers}.prof"] if profile else [])
    server = subprocess.Popen(
        [sys.executable, *wrapper, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
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
            r = httpx.post(base + "/api/v1/auth/token", json={"username": name, "password": password(name)})
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
                    registration_id, id_number = rng.choice(regs)
                    body = json.dumps({"registration_id": registration_id, "id_number": id_number,
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
        beside = pgbench.start(SECONDS) if pgbench else None
        sampler = LockWaits(url) if url.startswith("postgresql") else None
        if sampler:
            sampler.start()
        stop_at[0] = time.perf_counter() + SECONDS
        spy = spy_report.record(server.pid, f"{label}-{workers}")
        cpu_before, db_before, own_before = cpu_seconds(server.pid), postgres_cpu_seconds(), sum(os.times()[:2])
        started = time.perf_counter()
        start_barrier.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before
        spy_report.finish(spy)
        db_cpu = postgres_cpu_seconds() - db_before
        client_cpu = sum(os.times()[:2]) - own_before
        waits = sampler.finish() if sampler else ""
        beside_tps = PgBench.tps(beside) if beside else None
    finally:
        server.terminate()
        server.wait(timeout=60 if profile else 10)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    checks = verify(url)
    processes = f"{workers} server process{'es' if workers > 1 else ''}"
    print(f"{label}: {CLIENTS} clients on {len(SUPPLIERS)} suppliers, {processes}, {elapsed:.1f} s: {counts['201'] / elapsed:.0f} slips/s "
          f"({counts['201']} issued, {counts['422']} refused as full, {counts['other']} other), "
          f"{len(latencies) / elapsed:.0f} requests/s; latency p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, "
          f"mean {statistics.mean(latencies) * 1000:.1f} ms; "
          f"server CPU {server_cpu / max(1, len(latencies)) * 1000:.1f} ms per request "
          f"({server_cpu / elapsed * 100:.0f}% of a core)"
          + (f", PostgreSQL {db_cpu / max(1, len(latencies)) * 1000:.1f} ms ({db_cpu / elapsed * 100:.0f}%)"
             if label.startswith("postgresql") else "")
          + f", clients {client_cpu / max(1, len(latencies)) * 1000:.1f} ms ({client_cpu / elapsed * 100:.0f}%)"
          + (f"; pgbench -N beside: {beside_tps:.0f} tps" if beside_tps is not None else ""))
    if waits:
        print(f"{label}: {waits}", flush=True)
    ok = checks["oversold"] == checks["sold_mismatch"] == checks["over_by_slips"] == checks["number_gaps"] == 0
    print(f"{label}: check {checks} -> {'OK: nothing oversold, numbers gapless' if ok else 'FAILED'}", flush=True)
    if not ok:
        raise SystemExit(1)
    return {"sales": counts["201"] / elapsed, "pgbench": beside_tps}


def main() -> None:
    on_each_backend(lambda url, label: run(label.lower(), url), "bench_slips")


if __name__ == "__main__":
    main()
