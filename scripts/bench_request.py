"""Benchmark: the fixed cost of an authenticated request (issue #19, item 3), as server CPU per request.

Starts the app under uvicorn (one process) on the demo district (20 households a village), on SQLite (a temp file)
and on PostgreSQL (a database of its own on BENCH_DATABASE_URL's or TEST_DATABASE_URL's server, dropped at the end),
then sends BENCH_REQUESTS (default 2,000) requests one after the other on one keep-alive connection to each of:
`/healthz` (no caller, no database: the floor), `GET /api/v1/towns` as the bureau with a Bearer token (the caller
resolved, seven towns read and serialised), `GET /api/v1/households?per_page=20` (a list page) and the `/households`
page with a login cookie. One client at a time, so that the figure is the server's own CPU per request (from
/proc/PID/stat, less what the idle server spends in the same time), not a queue; the load average is printed beside it, since the machine is shared.

`BENCH_CASES=page` measures only the cases whose name holds one of the comma-separated words, and `BENCH_PROFILE=OUT`
runs the server under cProfile (scripts/profiled_server.py) into OUT.<database>.prof: a profile of one case alone.
`BENCH_SPY=OUT` samples each case with py-spy instead (scripts/spy_report.py: `record`, and the report to read it),
which does not slow the server down.

`--tree DIR` runs the server from another checkout (a `git worktree` of an older commit), so that the same script
measures before and after a change: `python scripts/bench_request.py --tree /work/bench-before`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "--tree" in sys.argv:  # before anything imports subsidy: the code measured is the other checkout's
    ROOT = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    del sys.argv[sys.argv.index("--tree"):sys.argv.index("--tree") + 2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")

import httpx  # noqa: E402
import spy_report  # noqa: E402  (scripts/, beside this file)
import sqlalchemy as sa  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
# BENCH_CONNECTIONS=8: the same requests over 8 keep-alive connections at once (one client thread each), to see what
# concurrency adds to a request's server CPU; BENCH_SERVER_WORKERS=2: uvicorn's worker processes (CPU summed over them).
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "1"))
SERVER_WORKERS = int(os.environ.get("BENCH_SERVER_WORKERS", "1"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """The CPU of the process and of its live children (uvicorn's worker processes, when there are several)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return own + sum(cpu_seconds(int(kid)) for kid in kids if Path(f"/proc/{kid}").exists())


def prepare(url: str) -> None:
    from subsidy import demo
    from subsidy.core import db

    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=20)
    engine.dispose()


def measure(label: str, url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    # BENCH_PROFILE=OUT: the server runs under cProfile, every thread (scripts/profiled_server.py), into OUT.<label>.prof.
    profile = os.environ.get("BENCH_PROFILE")
    wrapper = [str(Path(__file__).resolve().parent / "profiled_server.py"), f"{profile}.{label}.prof"] if profile else []
    server = subprocess.Popen(
        [sys.executable, *wrapper, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(SERVER_WORKERS), "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(base + "/api/v1/auth/token", json={"username": "drc", "password": "drc-demo"}).json()["token"]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        page = httpx.Client(base_url=base, timeout=30)
        form = page.get("/login")
        csrf = form.cookies.get("csrftoken", "")
        done = page.post("/login", data={"username": "drc", "password": "drc-demo", "_csrf_token": csrf},
                         headers={"x-csrftoken": csrf})
        assert done.status_code in (200, 303), done.status_code
        bare = httpx.Client(base_url=base, timeout=30)  # no cookie: /healthz looks up no caller
        cases = [("/healthz", bare, "/healthz"), ("GET /api/v1/towns", api, "/api/v1/towns"),
                 ("GET /api/v1/households?per_page=20", api, "/api/v1/households?per_page=20"),
                 ("the /households page", page, "/households")]
        # BENCH_CASES=households,towns: only the cases whose name holds one of these (a profile of one case alone).
        wanted = [w for w in os.environ.get("BENCH_CASES", "").split(",") if w]
        cases = [case for case in cases if not wanted or any(w in case[0] for w in wanted)]
        # What the idle server spends per second (its lifespan loops: the audit sealer, ...), taken off each case.
        idle_from, idle_cpu = time.perf_counter(), cpu_seconds(server.pid)
        time.sleep(3)
        idle = (cpu_seconds(server.pid) - idle_cpu) / (time.perf_counter() - idle_from)
        print(f"  {label:10} idle server: {idle * 1000:.1f} ms CPU a second", flush=True)
        for name, client, path in cases:
            for _ in range(50):  # warm: prepared statements, caches
                answer = client.get(path)
                assert answer.status_code == 200, (name, answer.status_code, answer.text[:200])
            load = os.getloadavg()[0]
            spy = spy_report.record(server.pid, name)
            before, started = cpu_seconds(server.pid), time.perf_counter()
            run(client, path, name)
            wall = time.perf_counter() - started
            spy_report.finish(spy)
            cpu = cpu_seconds(server.pid) - before - idle * wall
            print(f"  {label:10} {name:38} {cpu / REQUESTS * 1000:6.2f} ms server CPU, {wall / REQUESTS * 1000:6.2f} ms"
                  f" wall per request (load average {load:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
        for client in (api, page, bare):
            client.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


def run(client: httpx.Client, path: str, name: str) -> None:
    """REQUESTS requests, one after the other, or spread over CONNECTIONS clients (threads) sending at once."""
    def send(count: int, each: httpx.Client) -> None:
        for _ in range(count):
            if each.get(path).status_code != 200:
                raise SystemExit(f"{name}: an answer was not 200")
    if CONNECTIONS == 1:
        send(REQUESTS, client)
        return
    import concurrent.futures
    clients = [httpx.Client(base_url=client.base_url, headers=client.headers, cookies=client.cookies, timeout=30)
               for _ in range(CONNECTIONS)]
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
        for done in [pool.submit(send, REQUESTS // CONNECTIONS, each) for each in clients]:
            done.result()
    for each in clients:
        each.close()


def main() -> None:
    how = "one at a time" if CONNECTIONS == 1 else f"over {CONNECTIONS} connections at once"
    print(f"code measured: {ROOT}; {REQUESTS} requests a case, {how}, {SERVER_WORKERS} server process(es)", flush=True)
    if "sqlite" in BACKENDS:
        folder = Path(tempfile.mkdtemp(prefix="bench_request_"))
        try:
            url = f"sqlite:///{folder / 'bench.db'}"
            prepare(url)
            measure("SQLite", url)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if "postgresql" in BACKENDS:
        given = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or \
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        address = sa.engine.make_url(given)
        name = f"bench_request_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(address, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = address.set(database=name).render_as_string(hide_password=False)
            prepare(url)
            from subsidy.core import db
            db.dispose_engines()
            measure("PostgreSQL", url)
        finally:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
