"""Benchmark: import a generated 50,000-row registration form into a fresh SQLite database.

Prints rows per second and peak memory of the import, and beside them the time of a bare openpyxl read_only read of
the same file (the floor no import can beat). Goal: 50,000 rows in under 60 s on a 2-core machine, memory
flat as the file grows. Run by `make bench`; `--rows N` to try other sizes, `--database-url` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import json
import resource
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SUBSIDY_AUDIT_KEY", "bench:bench-audit-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_DATA_KEY", "bench:bench-data-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_LOOKUP_KEY", "bench-lookup-key-not-for-production-0123456789")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SUBSIDY_ARGON2_TIME_COST", "1")
os.environ.setdefault("SUBSIDY_ARGON2_MEMORY_KIB", "8192")

from openpyxl import Workbook, load_workbook  # noqa: E402

from subsidy import demo
from subsidy.core import db
from subsidy.registry import spreadsheet
from subsidy.rules.idnumbers import make_id_number

NAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "玉兰", "国庆", "淑珍", "德胜"]
CATEGORIES = ["普通"] * 7 + ["低保", "五保", "建档立卡"]
VILLAGES = ["dongguan", "xiguan", "yingxi", "hejia", "qiaogou", "dongmen"]  # not the ban village


def generate(path: Path, rows: int) -> None:
    """A valid template file with unique fictional ID numbers: region 370911, birth dates spread over 30 years,
    sequence numbers 000-999 (30 years x 365 days x 1000 is far more than needed)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("购买登记表")
    sheet.append(list(spreadsheet.HEADER))
    start = date(1950, 1, 1)
    for n in range(rows):
        birth = start + timedelta(days=n // 1000)
        sheet.append([VILLAGES[n % len(VILLAGES)], NAMES[n % 20] + GIVEN[n % 8],
                      make_id_number("370911", birth, f"{n % 1000:03d}"), f"139{n:08d}",
                      f"示范村{n // 100 + 1}组{n % 100 + 1}号", CATEGORIES[n % 10],
                      [1, 1.5, 2, 2.5, 3][n % 5], n % 2])
    workbook.save(path)


def bare_read(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return time.perf_counter() - started, count


def import_in_child(path: Path, url: str) -> dict:
    """Import in a fresh process, so that its peak resident memory is the import's own (ru_maxrss of the child);
    tracemalloc would slow the import down several times."""
    out = subprocess.run([sys.executable, __file__, "--import-only", str(path), "--database-url", url],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_only(path: str, url: str) -> None:
    os.environ["DATABASE_URL"] = url
    engine = db.get_engine(url)
    session = db.new_session(engine, write=True)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = spreadsheet.import_file(session, None, path)
    session.commit()
    seconds = time.perf_counter() - started
    session.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "summary": result.summary(), "imported": result.imported,
                      "updated": result.updated, "refused": result.refused_count,
                      "peak_rss_mb": peak / 1024, "baseline_rss_mb": baseline / 1024}))


def fresh_database(tmp: str, name: str, url: str) -> str:
    url = url or f"sqlite:///{Path(tmp) / name}"
    db.upgrade(url)
    with db.transaction(db.get_engine(url)) as session:
        demo.load(session, households_per_village=2)
    db.dispose_engines()
    return url


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--import-only", default="")
    args = parser.parse_args()
    if args.import_only:
        import_only(args.import_only, args.database_url)
        return 0
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # One PostgreSQL database holds one run, so there only the full size; on SQLite both, to show the
        # import scales linearly.
        sizes = (args.rows,) if args.database_url else (args.rows // 5, args.rows)
        for rows in sizes:
            path = Path(tmp) / f"registrations-{rows}.xlsx"
            started = time.perf_counter()
            generate(path, rows)
            print(f"\n{rows} rows: generated in {time.perf_counter() - started:.1f} s "
                  f"({path.stat().st_size / 1e6:.1f} MB)")
            bare_seconds, bare_rows = bare_read(path)
            url = fresh_database(tmp, f"bench-{rows}.db", "" if not args.database_url else args.database_url)
            first = import_in_child(path, url)
            again = import_in_child(path, url)
            print(f"  import:            {first['summary']} in {first['seconds']:.1f} s = "
                  f"{rows / first['seconds']:,.0f} rows/s, peak RSS {first['peak_rss_mb']:.0f} MB "
                  f"(before the import {first['baseline_rss_mb']:.0f} MB)")
            print(f"  bare openpyxl read_only read of the same file: {bare_rows - 1} rows in {bare_seconds:.1f} s = "
                  f"{(bare_rows - 1) / bare_seconds:,.0f} rows/s")
            print(f"  re-import:         {again['summary']} in {again['seconds']:.1f} s")
            ok &= first["imported"] == rows and first["refused"] == 0 and again["imported"] == again["updated"] == 0
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    if not ok:
        print("UNEXPECTED RESULT", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
