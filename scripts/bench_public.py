"""Benchmark: requests per second of the public page (`/public`) and its JSON (`/api/v1/public`), beside `/healthz`
measured in the same run as the reference (the cheapest answer the app gives: no database, no template).

Starts the app with uvicorn (one server process, as `make run`; BENCH_WORKERS=1,2 for more counts) on a loopback
port against the demo on a SQLite temp file (the public answers are served from the in-process cache: the database
is read once per TTL, so the backend does not matter here). The load generator is `wrk` when it is on PATH
(Debian's `wrk` package; BENCH_WRK=0 skips it), else a Python asyncio client on raw keep-alive connections (say
which: it prints its name). Each answer must be 200: any other status fails the run.

The public answers can beat the reference: they are bytes rendered once per TTL, and the auth middleware does not
even look at their cookies (web/auth.py, PUBLIC_PATHS), while `/healthz` still has a dict serialised per request.

Goal: >= 1,000 requests/s for `/public` on this 2-core machine (the load generator shares the cores).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
# The demo's ID numbers and phones are sealed at rest (subsidy/core/vault.py): the keys of a bench, as
# scripts/bench_anomalies.py has (without them the demo does not load and the run stops before measuring).
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

import httpx  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1").split(",")]
PATHS = ("/healthz", "/public", "/api/v1/public")
GOAL = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str) -> None:
    from subsidy import demo
    from subsidy.core import db

    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=20)
    engine.dispose()


def wrk_binary() -> str | None:
    choice = os.environ.get("BENCH_WRK", "wrk")
    return None if choice == "0" else shutil.which(choice)


def with_wrk(binary: str, url: str) -> tuple[float, int]:
    """(requests/s, answers that were not 2xx) of `wrk -t1 -c CONNECTIONS -d SECONDS`."""
    out = subprocess.run([binary, "-t", "1", "-c", str(CONNECTIONS), "-d", f"{max(1, round(SECONDS))}s", url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return rate, (int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0)


def with_asyncio(port: int, path: str) -> tuple[float, int]:
    """The same load from Python: CONNECTIONS keep-alive connections, each sending its next GET when the last
    answer has been read whole (content-length framing; the app never answers chunked here)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

    async def one(stop_at: float, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length:\s*(\d+)", head, re.I).group(1))
                await reader.readexactly(length)
                counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
        finally:
            writer.close()

    async def run() -> tuple[float, int]:
        counts = [0, 0]
        started = time.perf_counter()
        await asyncio.gather(*(one(started + SECONDS, counts) for _ in range(CONNECTIONS)))
        return counts[0] / (time.perf_counter() - started), counts[1]

    return asyncio.run(run())


def measure(url: str, workers: int) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + uuid.uuid4().hex),
           "SUBSIDY_AUDIT_KEY": os.environ["SUBSIDY_AUDIT_KEY"], "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    binary = wrk_binary()
    generator = f"wrk, {CONNECTIONS} connections" if binary else f"Python asyncio client, {CONNECTIONS} connections"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        for path in PATHS[1:]:  # warm: each server process fills its cache on its first request
            answer = httpx.get(base + path, timeout=10)
            assert answer.status_code == 200 and "public" in answer.headers["cache-control"], (path, answer)
        rates = {}
        for path in PATHS:
            rate, bad = with_wrk(binary, base + path) if binary else with_asyncio(port, path)
            if bad:
                raise SystemExit(f"{path}: {bad} answers were not 200")
            rates[path] = rate
        processes = f"{workers} server process{'es' if workers > 1 else ''}"
        reference = rates["/healthz"]
        for path in PATHS[1:]:
            verdict = "OK" if rates[path] >= GOAL else f"BELOW the goal of {GOAL}/s"
            print(f"{path}: {rates[path]:.0f} requests/s ({rates[path] / reference * 100:.0f}% of /healthz's "
                  f"{reference:.0f}/s in the same run; {processes}, {generator}, {SECONDS:.0f} s each) -> {verdict}",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_public_"))
    try:
        url = f"sqlite:///{folder / 'bench.db'}"
        prepare(url)
        for workers in WORKERS:
            measure(url, workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
