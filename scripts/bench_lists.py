"""Benchmark: the daily lists and searches (issue #19's table) at city scale, each against a bare reference of the
same query served in the same run.

Builds a database of its own (dropped at the end): the demo district with 40 more villages in each town and N
households (BENCH_HOUSEHOLDS, default 1,000,000), 0.7 N approved registrations of the active season and 2 N issued
slips, on PostgreSQL with `generate_series` (BENCH_DATABASE_URL or TEST_DATABASE_URL names the server; default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres; only its host is used), then a district of
BENCH_SQLITE_HOUSEHOLDS (default 50,000) on SQLite with a recursive CTE instead (BENCH_SQLITE_HOUSEHOLDS=0 skips it,
BENCH_HOUSEHOLDS=0 skips PostgreSQL). ID numbers and phones are sealed in Python for a pool of 1,000 values and reused;
their lookup hashes are md5s, except for a few "needle" households spread over the ids (and the first and last, which
the app's key check reads), which carry true values: the whole-number, last-four and last-six searches look for
those.

Two servers run side by side, one process each, under uvicorn: the app, and the reference, a bare ASGI callable in
this file that runs the hand-written keyset query of each case (the same filter, order and 50 + 1 rows, and the same
capped count of at most 10,001 rows the app's lists show as "10,000+") on psycopg (async, a few connections) or
sqlite3, opens and masks the sealed ID numbers and phones as the app does, and renders the rows with Jinja2 (HTML) or
json.dumps (the API cases). It resolves no caller and keeps no session: what the app spends on those is part of the
ratio. A Python asyncio client (BENCH_CONNECTIONS keep-alive connections, default 8, BENCH_SECONDS per case, default
5) drives each case on each server in turn and prints p50, p99 and requests per second, their ratio, and the app
server's CPU per request (from /proc). The app server's RSS is printed before the first case and after the last.
Every answer must be 200 and the app's must hold the rows asked for (the needle's masked ID number); anything else
fails the run.

Goals (issue #19): every case at >= 50 % of the reference's requests per second, p99 under 100 ms at 1,000,000
households on PostgreSQL, under 50 ms on the 50,000-household SQLite district; the server's RSS flat.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "1000000"))
SQLITE_HOUSEHOLDS = int(os.environ.get("BENCH_SQLITE_HOUSEHOLDS", "50000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
VILLAGES_PER_TOWN = 40
POOL = 1000  # sealed values, reused
NEEDLES = 20
PER_PAGE = 50
CAP = 10_000
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


# --- the data -------------------------------------------------------------------------------------------------------

def _sql(dialect: str, body: str) -> str:
    """`body` with the few functions the two databases spell differently: {pad4(x)}, {hash(x)}, {series(n)}."""
    if dialect == "postgresql":
        pad4 = r"lpad(((\1) % 10000)::text, 4, '0')"
        digest = r"md5(\1)"
        series = r"generate_series(1, \1) AS g(g)"
    else:
        pad4 = r"substr('000' || ((\1) % 10000), -4, 4)"
        digest = r"(\1)"  # unique is all the placeholder hashes need to be
        series = r"series"
    body = re.sub(r"\{pad4\((.+?)\)\}", pad4, body)
    body = re.sub(r"\{hash\((.+?)\)\}", digest, body)
    return re.sub(r"\{series\((.+?)\)\}", series, body)


def _with_series(dialect: str, n: str) -> str:
    return "" if dialect == "postgresql" else f"WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < {n}) "


def load(url: str, households: int) -> dict:
    """The district, its generated rows and the needles; returns what the cases need to know."""
    import sqlalchemy as sa

    from subsidy import demo
    from subsidy.core import db, vault
    from subsidy.rules.idnumbers import make_id_number
    from datetime import date

    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as s:
        demo.load(s, households_per_village=2)
    dialect = engine.dialect.name
    started = time.perf_counter()
    pool = [(n, vault.seal("id_number", make_id_number("370911", date(1940 + n % 50, n % 12 + 1, n % 28 + 1),
                                                          f"{n % 1000:03d}")), vault.seal("phone", f"139{n:08d}"))
            for n in range(POOL)]
    registrations = int(households * 0.7)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TEMP TABLE sealed_values (n integer PRIMARY KEY, id_number text, phone text)"))
        c.execute(sa.text("INSERT INTO sealed_values VALUES (:n, :i, :p)"), [{"n": n, "i": i, "p": p} for n, i, p in pool])
        c.execute(sa.text(_sql(dialect, _with_series(dialect, str(VILLAGES_PER_TOWN)) + """
            INSERT INTO village (town_id, code, name, zone)
            SELECT t.id, t.code || '-b' || g, t.name || '压测' || g || '村', 'normal'
            FROM town t, {series(""" + str(VILLAGES_PER_TOWN) + ")}")))
        c.execute(sa.text("CREATE TEMP TABLE bench_village AS SELECT id, town_id FROM village WHERE code LIKE '%-b%'"))
        c.execute(sa.text("CREATE TEMP TABLE bench_village_k AS SELECT (SELECT count(*) FROM bench_village b "
                          "WHERE b.id < v.id) AS k, id, town_id FROM bench_village v"))
        villages = c.execute(sa.text("SELECT count(*) FROM bench_village_k")).scalar_one()
        c.execute(sa.text(_sql(dialect, _with_series(dialect, str(households)) + f"""
            INSERT INTO household (village_id, head_name, id_number_sealed, id_number_hmac, id_number_tail,
                                   id_number_tail6_hmac, phone_sealed, phone_hmac, phone_tail, address, address_key,
                                   category, created_at, updated_at)
            SELECT v.id,
                   substr(:surnames, 1 + g % 20, 1) || substr(:given, 1 + (g / 20) % 28, 1)
                       || CASE WHEN g % 3 = 0 THEN substr(:given, 1 + (g / 560) % 28, 1) ELSE '' END,
                   s.id_number, {{hash('i' || g)}}, {{pad4(g)}}, {{hash('t' || g)}},
                   s.phone, {{hash('p' || g)}}, {{pad4(g * 7)}}, '压测地址' || g || '号', '压测地址' || g || '号',
                   'ordinary', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
            FROM {{series({households})}}
            JOIN bench_village_k v ON v.k = g % {villages}
            JOIN sealed_values s ON s.n = g % {POOL}""")), {"surnames": SURNAMES, "given": GIVEN})
        first = c.execute(sa.text("SELECT min(id) FROM household WHERE address LIKE '压测地址%'")).scalar_one()
        season = c.execute(sa.text("SELECT id FROM season WHERE is_active")).scalar_one()
        # 0.7 N registrations, each with 3 slips (2 for one in 7) of 1 t: 2 N slips.
        c.execute(sa.text(f"""
            INSERT INTO registration (household_id, season_id, village_id, coal_kg, stoves, status, sold_coal_kg,
                                      sold_stoves, reject_reason, created_at)
            SELECT h.id, {season}, h.village_id, 3000, 0, 'approved',
                   CASE WHEN h.id % 7 = 0 THEN 2000 ELSE 3000 END, 0, '', CURRENT_TIMESTAMP
            FROM household h WHERE h.id >= {first} AND h.id < {first + registrations}"""))
        supplier = c.execute(sa.text("SELECT id FROM supplier WHERE code = 'coal-a'")).scalar_one()
        for k in range(3):
            c.execute(sa.text(f"""
                INSERT INTO slip (number, seq, supplier_id, season_id, registration_id, household_id, town_id,
                                  village_id, status, issued_at, issued_on, head_name, id_number_sealed,
                                  id_number_hmac, id_number_tail, phone_sealed, phone_hmac, phone_tail, address,
                                  category, coal_kg, stoves, amount_fen, subsidy_fen, void_reason, set_aside_reason)
                SELECT 'BENCH-{k}-' || r.id, {10_000_000 * (k + 1)} + r.id, {supplier}, r.season_id, r.id, h.id,
                       v.town_id, v.id, 'issued', CURRENT_TIMESTAMP, CURRENT_DATE, h.head_name, h.id_number_sealed,
                       h.id_number_hmac, h.id_number_tail, h.phone_sealed, h.phone_hmac, h.phone_tail, h.address,
                       h.category, 1000, 0, 110000, 30000, '', ''
                FROM registration r JOIN household h ON h.id = r.household_id JOIN village v ON v.id = r.village_id
                WHERE r.household_id >= {first} {"AND r.household_id % 7 <> 0" if k == 2 else ""}"""))
        # Needles: true values, spread over the generated ids, and the app's key check reads the ends.
        last = c.execute(sa.text("SELECT max(id) FROM household")).scalar_one()
        ids = sorted({first, last, *(first + (last - first) * n // NEEDLES for n in range(NEEDLES))})
        needles = []
        for n, household_id in enumerate(ids):
            number = make_id_number("370999", date(1950 + n, 1 + n % 12, 1 + n % 28), f"{n + 500:03d}")
            phone = f"137{n:08d}"
            c.execute(sa.text("""
                UPDATE household SET id_number_sealed = :i, id_number_hmac = :ih, id_number_tail = :it,
                       id_number_tail6_hmac = :i6, phone_sealed = :p, phone_hmac = :ph, phone_tail = :pt
                WHERE id = :id"""), {"id": household_id, "i": vault.seal("id_number", number),
                                     "ih": vault.blind("id_number", number), "it": vault.tail(number),
                                     "i6": vault.tail6_blind("id_number", number), "p": vault.seal("phone", phone),
                                     "ph": vault.blind("phone", phone), "pt": vault.tail(phone)})
            needles.append({"id": household_id, "id_number": number})
        for order in ("min", "max"):
            row = c.execute(sa.text(f"SELECT id, id_number_sealed, phone_sealed FROM slip WHERE id = "
                                    f"(SELECT {order}(id) FROM slip)")).one()
            c.execute(sa.text("UPDATE slip SET id_number_hmac = :i, phone_hmac = :p WHERE id = :id"), {
                "id": row.id, "i": vault.blind("id_number", vault.open_sealed("id_number", row.id_number_sealed)),
                "p": vault.blind("phone", vault.open_sealed("phone", row.phone_sealed))})
        counts = c.execute(sa.text("SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM registration), "
                                   "(SELECT count(*) FROM slip)")).one()
        town = c.execute(sa.text("SELECT t.id, t.code FROM town t JOIN village v ON v.town_id = t.id "
                                 "JOIN household h ON h.village_id = v.id WHERE h.id = :id"),
                         {"id": needles[len(needles) // 2]["id"]}).one()
        town_villages = c.execute(sa.text("SELECT id FROM village WHERE town_id = :t ORDER BY id"),
                                  {"t": town.id}).scalars().all()
        middle = c.execute(sa.text("SELECT id FROM household ORDER BY id LIMIT 1 OFFSET :o"),
                           {"o": counts[0] // 2}).scalar_one()
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"  generated {counts[0]:,} households, {counts[1]:,} registrations, {counts[2]:,} slips in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return {"needles": needles, "town": town.code, "town_villages": list(town_villages), "middle": middle,
            "season": season}


# --- the cases ------------------------------------------------------------------------------------------------------

_H_COLUMNS = ("h.id, h.village_id, h.head_name, h.id_number_sealed, h.phone_sealed, h.address, h.category, "
              "h.created_at")


def _household_sql(where: str = "", keyset: str = "") -> tuple[str, str]:
    """(page, capped count) of households, by id, as the app's list reads them (subsidy/core/paging.py)."""
    condition = " AND ".join(c for c in (where, keyset) if c)
    page = (f"SELECT {_H_COLUMNS}, v.name AS village FROM household h JOIN village v ON v.id = h.village_id"
            f"{' WHERE ' + condition if condition else ''} ORDER BY h.id LIMIT {PER_PAGE + 1}")
    count = (f"SELECT count(*) FROM (SELECT 1 FROM household h{' WHERE ' + where if where else ''} "
             f"LIMIT {CAP + 1}) capped")
    return page, count


def cases(known: dict) -> list[dict]:
    """Each case: who asks, the app's request, the reference's query and what the answer must contain."""
    from subsidy.core import paging, vault
    from subsidy.rules.idnumbers import mask_id_number

    needle = known["needles"][len(known["needles"]) // 2]
    whole, masked = needle["id_number"], mask_id_number(needle["id_number"])
    first = known["needles"][0]["id_number"]  # the first generated household: on the first page of its last four
    in_town = "h.village_id IN (" + ",".join(map(str, known["town_villages"])) + ")"
    tail4 = f"(h.id_number_tail = '{first[-4:]}' OR h.phone_tail = '{first[-4:]}')"
    tail6 = f"h.id_number_tail6_hmac = '{vault.tail6_blind('id_number', whole)}'"
    by_hmac = f"h.id_number_hmac = '{vault.blind('id_number', whole)}'"
    cursor = paging.encode_cursor(10_000, [known["middle"]])
    out = []

    def case(label, who, method, path, *, body=None, where="", keyset="", render="json", expect=None):
        page, count = _household_sql(where, keyset)
        out.append({"label": label, "who": who, "method": method, "path": path, "body": body, "render": render,
                    "sql": [page, count], "expect": expect})

    case("GET /api/v1/households?page=1", "drc", "GET", "/api/v1/households?page=1")
    case("the same, 10,000 pages deep (cursor)", "drc", "GET", f"/api/v1/households?after={cursor}",
         keyset=f"h.id > {known['middle']}")
    case("POST /api/v1/households/search q=王", "drc", "POST", "/api/v1/households/search", body={"q": "王"},
         where="h.head_name LIKE '%王%'")
    case("search by the last 4 of an ID", "drc", "POST", "/api/v1/households/search", body={"q": first[-4:]},
         where=tail4, expect=mask_id_number(first))
    case("search by the last 6 of an ID", "drc", "POST", "/api/v1/households/search", body={"q": whole[-6:]},
         where=tail6, expect=masked)
    case("search by a whole ID number", "drc", "POST", "/api/v1/households/search", body={"q": whole},
         where=by_hmac, expect=masked)
    case("the /households page", "drc", "GET", "/households", render="html")
    case("the /households search page, whole ID", "drc", "POST", "/households/search", body={"q": whole},
         where=by_hmac, render="html", expect=masked)
    case("town: GET /api/v1/households?page=1", known["town"], "GET", "/api/v1/households?page=1", where=in_town)
    case("town: search by a whole ID number", known["town"], "POST", "/api/v1/households/search",
         body={"q": whole}, where=f"{in_town} AND {by_hmac}", expect=whole)  # a town sees ID numbers whole
    season = known["season"]
    out.append({"label": "the /registrations page", "who": "drc", "method": "GET", "path": "/registrations",
                "body": None, "render": "html", "expect": None, "sql": [
                    f"SELECT {_H_COLUMNS}, v.name AS village, r.coal_kg, r.status FROM registration r "
                    f"JOIN household h ON h.id = r.household_id JOIN village v ON v.id = r.village_id "
                    f"WHERE r.season_id = {season} ORDER BY r.village_id, r.id LIMIT {PER_PAGE + 1}",
                    f"SELECT count(*) FROM (SELECT 1 FROM registration r JOIN household h ON h.id = r.household_id "
                    f"JOIN village v ON v.id = r.village_id WHERE r.season_id = {season} LIMIT {CAP + 1}) capped"]})
    out.append({"label": "the /slips page", "who": "drc", "method": "GET", "path": "/slips", "body": None,
                "render": "html", "expect": None, "sql": [
                    "SELECT s.id, s.village_id, s.head_name, s.id_number_sealed, s.phone_sealed, s.address, "
                    "s.category, s.issued_at AS created_at, s.number AS village FROM slip s "
                    f"WHERE s.season_id = {season} ORDER BY s.issued_on DESC, s.id DESC LIMIT {PER_PAGE + 1}",
                    f"SELECT count(*) FROM (SELECT 1 FROM slip s WHERE s.season_id = {season} LIMIT {CAP + 1}) capped"]})
    return out


# --- the reference server -------------------------------------------------------------------------------------------

_TEMPLATE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1><p>共 {{ total }}{% if capped %}+{% endif %} 户</p>
<table><thead><tr><th>编号</th><th>村（社区）</th><th>户主姓名</th><th>身份证号码</th><th>联系电话</th><th>住址</th>
<th>户类别</th><th>登记时间</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.id }}</td><td>{{ r.village }}</td><td>{{ r.head_name }}</td><td>{{ r.id_number }}</td>
<td>{{ r.phone }}</td><td>{{ r.address }}</td><td>{{ r.category }}</td><td>{{ r.created_at }}</td></tr>
{% endfor %}</tbody></table>{% if more %}<a href="?after=x">下一页</a>{% endif %}</body></html>"""


def reference_app():
    """The bare reference (uvicorn --factory): GET /<case index> runs that case's two statements and renders."""
    from jinja2 import Environment

    from subsidy.core import vault
    from subsidy.rules.idnumbers import mask_id_number, mask_phone

    spec = json.loads(Path(os.environ["BENCH_REFERENCE_CASES"]).read_text())
    url = os.environ["DATABASE_URL"]
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    v = vault.vault()
    state: dict = {}

    def rows_of(raw: list, more: bool) -> list[dict]:
        out = []
        for row in raw[:PER_PAGE]:
            i, village_id, name, id_sealed, phone_sealed, address, category, created, village = row[:9]
            out.append({"id": i, "village_id": village_id, "village": village, "head_name": name,
                        "id_number": mask_id_number(v.open("id_number", id_sealed)),
                        "phone": mask_phone(v.open("phone", phone_sealed) or ""), "address": address,
                        "category": category, "created_at": str(created)})
        return out

    def answer(case: dict, raw: list, total: int) -> bytes:
        more = len(raw) > PER_PAGE
        rows = rows_of(raw, more)
        if case["render"] == "html":
            return template.render(title="住户", rows=rows, total=min(total, CAP), capped=total > CAP,
                                   more=more).encode()
        return json.dumps({"items": rows, "total": min(total, CAP), "total_capped": total > CAP,
                           "next": "x" if more else None}, ensure_ascii=False).encode()

    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.split("///", 1)[1], check_same_thread=False)

        async def run(case: dict) -> bytes:
            page, count = case["sql"]
            raw = connection.execute(page).fetchall()
            total = connection.execute(count).fetchone()[0]
            return answer(case, raw, total)
    else:
        import psycopg

        conninfo = url.replace("postgresql+psycopg", "postgresql")

        async def run(case: dict) -> bytes:
            if "pool" not in state:
                state["pool"] = asyncio.Queue()
                for _ in range(4):
                    state["pool"].put_nowait(await psycopg.AsyncConnection.connect(conninfo, autocommit=True))
            c = await state["pool"].get()
            try:
                page, count = case["sql"]
                raw = await (await c.execute(page, prepare=True)).fetchall()
                total = (await (await c.execute(count, prepare=True)).fetchone())[0]
            finally:
                state["pool"].put_nowait(c)
            return answer(case, raw, total)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        case = spec[int(scope["path"].strip("/"))]
        body = await run(case)
        kind = b"text/html; charset=utf-8" if case["render"] == "html" else b"application/json"
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


# --- the load -------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_request(method: str, path: str, headers: dict, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def drive(port: int, request: bytes, expect: bytes | None, seconds: float = SECONDS) -> dict:
    """CONNECTIONS keep-alive connections for `seconds`, each sending its next request when the last answer is in."""
    latencies: list[float] = []
    bad: list[str] = []

    async def one(stop_at: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length:\s*(\d+)", head, re.I)
                if length is None:
                    raise SystemExit(f"an answer without a content-length: {head[:200]!r}")
                body = await reader.readexactly(int(length.group(1)))
                latencies.append(time.perf_counter() - sent)
                if not head.startswith(b"HTTP/1.1 200") or (expect is not None and expect not in body):
                    bad.append(head.split(b"\r\n", 1)[0].decode() + " " + body[:300].decode(errors="replace"))
        finally:
            writer.close()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(one(started + seconds) for _ in range(CONNECTIONS)))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    if bad:
        raise SystemExit(f"{len(bad)} wrong answers, e.g. {bad[0]}")
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, "n": len(latencies)}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(argv: list[str], env: dict, port: int) -> subprocess.Popen:
    import httpx

    server = subprocess.Popen([sys.executable, "-m", "uvicorn", *argv, "--host", "127.0.0.1", "--port", str(port),
                               "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/0", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise SystemExit(f"server {argv} exited with {server.returncode}")
            time.sleep(0.1)
    raise SystemExit(f"server {argv} did not start")


def credentials(base: str, who: str) -> tuple[dict, dict]:
    """(API headers, page headers and form fields) for the demo user `who`."""
    import httpx

    from subsidy.demo import demo_password

    token = httpx.post(base + "/api/v1/auth/token", json={"username": who, "password": demo_password(who)}).json()
    api = {"Authorization": f"Bearer {token['token']}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base) as client:
        client.get("/login")
        csrf = client.cookies.get("csrftoken")
        login = client.post("/login", data={"username": who, "password": demo_password(who), "_csrf_token": csrf})
        assert login.status_code in (200, 303), login.text[:300]
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return api, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "_csrf": csrf}


def measure(url: str, known: dict, label: str) -> list[dict]:
    spec = cases(known)
    folder = Path(tempfile.mkdtemp(prefix="bench_lists_"))
    (folder / "cases.json").write_text(json.dumps(spec, ensure_ascii=False))
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "BENCH_REFERENCE_CASES": str(folder / "cases.json")}
    app_port, ref_port = free_port(), free_port()
    app = start(["--factory", "web.app:create_app"], env, app_port)
    ref = start(["--factory", "--app-dir", str(ROOT / "scripts"), "bench_lists:reference_app"], env, ref_port)
    results = []
    try:
        base = f"http://127.0.0.1:{app_port}"
        logins = {who: credentials(base, who) for who in {c["who"] for c in spec}}
        requests = []
        for c in spec:
            api, page = logins[c["who"]]
            if c["method"] == "GET":
                headers = {k: v for k, v in (page if c["render"] == "html" else api).items()
                           if k not in ("Content-Type", "_csrf")}
                request = raw_request("GET", c["path"], headers)
            elif c["render"] == "html":
                body = urlencode({**c["body"], "_csrf_token": page["_csrf"]}).encode()
                request = raw_request("POST", c["path"], {k: v for k, v in page.items() if k != "_csrf"}, body)
            else:
                request = raw_request("POST", c["path"], api, json.dumps(c["body"]).encode())
            requests.append(request)
        # Warm both (plans, caches, prepared statements), and check the app's answer before timing it.
        for n, request in enumerate(requests):
            drive(app_port, request, spec[n]["expect"].encode() if spec[n]["expect"] else None, seconds=0.5)
            drive(ref_port, raw_request("GET", f"/{n}", {}), None, seconds=0.5)
        rss_before = rss_mb(app.pid)
        for n, (c, request) in enumerate(zip(spec, requests)):
            cpu = cpu_seconds(app.pid)
            mine = drive(app_port, request, c["expect"].encode() if c["expect"] else None)
            mine["cpu_ms"] = (cpu_seconds(app.pid) - cpu) * 1000 / max(1, mine["n"])
            bare = drive(ref_port, raw_request("GET", f"/{n}", {}), None)
            results.append({"label": c["label"], "app": mine, "ref": bare})
            print(f"  {c['label']:<40} app p50 {mine['p50']:6.1f} ms p99 {mine['p99']:6.1f} ms "
                  f"{mine['rate']:6.0f}/s ({mine['cpu_ms']:.1f} ms server CPU each) | reference "
                  f"p50 {bare['p50']:6.1f} ms {bare['rate']:6.0f}/s | {mine['rate'] / bare['rate'] * 100:4.0f} %",
                  flush=True)
        rss_after = rss_mb(app.pid)
        print(f"  app server RSS: {rss_before:.0f} MB before the timed cases, {rss_after:.0f} MB after "
              f"({len(spec) * SECONDS:.0f} s of them)", flush=True)
    finally:
        for server in (app, ref):
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)
    goal = 100 if label == "PostgreSQL" else 50
    for r in results:
        if r["app"]["rate"] < r["ref"]["rate"] / 2 or r["app"]["p99"] > goal:
            print(f"  BELOW THE GOAL (50 % of the reference, p99 < {goal} ms): {r['label']}")
    return results


def main() -> int:
    from subsidy.core import db
    import sqlalchemy as sa

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {CONNECTIONS} connections, "
          f"{SECONDS:.0f} s a case on each server (the client shares the cores)", flush=True)
    if HOUSEHOLDS:
        given = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or \
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        server = db.normalise_url(given).rsplit("/", 1)[0]
        name = f"bench_lists_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server + "/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            print(f"\nPostgreSQL, {HOUSEHOLDS:,} households", flush=True)
            url = f"{server}/{name}"
            known = load(url, HOUSEHOLDS)
            db.dispose_engines()
            measure(url, known, "PostgreSQL")
        finally:
            db.dispose_engines()
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    if SQLITE_HOUSEHOLDS:
        folder = Path(tempfile.mkdtemp(prefix="bench_lists_sqlite_"))
        try:
            print(f"\nSQLite, {SQLITE_HOUSEHOLDS:,} households", flush=True)
            url = f"sqlite:///{folder / 'bench.db'}"
            known = load(url, SQLITE_HOUSEHOLDS)
            db.dispose_engines()
            measure(url, known, "SQLite")
        finally:
            db.dispose_engines()
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
