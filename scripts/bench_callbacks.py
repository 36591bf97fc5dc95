"""Benchmark: callback samples (回访抽查) of a big month, on SQLite and (when BENCH_DATABASE_URL or TEST_DATABASE_URL
is set) PostgreSQL, each in a scratch database.

The month of bench_settlement.py (BENCH_MONTH_SLIPS slips of coal-a in the season's first month, 100,000 by default
here, spread over its three towns: one summary each), built and submitted; then, one summary each:

- the draw by the calculator's size (95 %, ±5 %: a few hundred slips), by 10 %, and by 100 % (the worst case: every
  slip of the summary drawn, tens of thousands of rows written at once);
- the sample's first page, a page deep by cursor, one callback recorded, and the bureau's approval refused while
  callbacks are open (the gate reads the sample's progress);
- beside the draw, the floor: the same population read by hand (the summary's standing slip ids, sorted).

Goal: a draw of a calculated size well under a second; the worst case within a few seconds. Run:
`.venv/bin/python scripts/bench_callbacks.py` (BENCH_BACKENDS=sqlite or =postgresql runs one).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_MONTH_SLIPS", "100000")
os.environ.setdefault("BENCH_TOTAL_SLIPS", os.environ["BENCH_MONTH_SLIPS"])

from sqlalchemy import select, text  # noqa: E402

from bench_settlement import as_user, load_slips, user_session  # noqa: E402
from scratch import on_each_backend  # noqa: E402
from subsidy.core import db  # noqa: E402
from subsidy.core.errors import Conflict  # noqa: E402
from subsidy.models import Slip  # noqa: E402
from subsidy.rules import sampling  # noqa: E402
from subsidy.settlement import summaries  # noqa: E402
from subsidy.verification import callbacks  # noqa: E402


def timed(label: str, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label:<58} {(time.perf_counter() - started) * 1000:9.1f} ms", flush=True)
    return result


def run(url: str, label: str) -> None:
    print(f"\n== {label}: {int(os.environ['BENCH_MONTH_SLIPS']):,} slips in a month "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)
    db.upgrade(url)
    engine = db.make_engine(url)
    started = time.perf_counter()
    month, _ = load_slips(engine)
    drafts = as_user(engine, "coal-a", lambda s, me: summaries.build_summaries(s, clerk=me, month=month))
    for d in drafts:
        as_user(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=d.id, password="coal-a-demo"))
    print(f"  (loading, building and submitting {len(drafts)} summaries: {time.perf_counter() - started:.1f} s)",
          flush=True)
    drafts = sorted(drafts, key=lambda d: -d.slip_count)
    by_size, by_percent, everything = (drafts * 3)[:3]

    def floor(summary_id):
        with engine.connect() as c:
            return sorted(c.execute(text("SELECT id FROM slip WHERE summary_id = :s AND status = 'issued' "
                                         "AND set_aside_reason = ''"), {"s": summary_id}).scalars())

    for d, how, kw in ((by_size, "size 95 % ±5 %", {"size": sampling.sample_size(by_size.slip_count, 95, 5)}),
                       (by_percent, "10 %", {"percent": 10}), (everything, "100 %", {"percent": 100})):
        population = timed(f"floor: read the {d.slip_count:,} slips' ids by hand", lambda: floor(d.id))
        drawn = timed(f"draw {how} of {d.slip_count:,} slips", lambda: as_user(
            engine, "drc", lambda s, me: callbacks.draw_sample(s, user=me, summary_id=d.id, **kw)))
        print(f"    {drawn.sample.size:,} drawn; reproducible from the seed: "
              f"{sampling.draw(drawn.sample.seed, population, drawn.sample.size) == _stored(engine, drawn)}",
              flush=True)

    s, _ = user_session(engine, "drc")
    with s:
        sample = callbacks.sample_of(s, everything.id)
        timed("sample page 1 (100 slips)", lambda: callbacks.sample_page(s, everything.id))
        deep = callbacks.sampled_rows(s, sample, page=100).next
        timed("sample page 101 by cursor", lambda: callbacks.sample_page(s, everything.id, after=deep))
        timed("sample page 101 by number (OFFSET)", lambda: callbacks.sample_page(s, everything.id, page=101))
        db.end_read(s)
    first = _stored_numbers(engine, by_size)[0]
    with engine.connect() as c:
        said = c.execute(select(Slip.coal_kg, Slip.stoves, Slip.amount_fen - Slip.subsidy_fen)
                         .where(Slip.number == first)).one()
    timed("record one callback (no discrepancy)", lambda: as_user(engine, "drc", lambda s, me: callbacks.record_callback(
        s, user=me, slip_number=first, reached=True, attempts=1, received_kg=said[0], received_stoves=said[1],
        paid_fen=said[2])))
    town = _town_code(engine, by_size.town_id)
    as_user(engine, town, lambda s, me: summaries.approve(s, reviewer=me, summary_id=by_size.id))

    def refused():
        try:
            as_user(engine, "drc", lambda s, me: summaries.approve(s, reviewer=me, summary_id=by_size.id))
        except Conflict:
            return
        raise AssertionError("approved with callbacks open")
    timed("the bureau's approval refused while callbacks are open", refused)
    engine.dispose()


def _stored(engine, drawn) -> list[int]:
    with engine.connect() as c:
        return list(c.execute(text("SELECT slip_id FROM callback_sample_slip WHERE sample_id = :s ORDER BY position"),
                              {"s": drawn.sample.id}).scalars())


def _stored_numbers(engine, summary) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(text(
            "SELECT s.number FROM callback_sample_slip c JOIN callback_sample a ON a.id = c.sample_id "
            "JOIN slip s ON s.id = c.slip_id WHERE a.summary_id = :s ORDER BY c.position"), {"s": summary.id}).scalars())


def _town_code(engine, town_id: int) -> str:
    with engine.connect() as c:
        return c.execute(text("SELECT code FROM town WHERE id = :t"), {"t": town_id}).scalar_one()


def main() -> None:
    on_each_backend(run, "bench_callbacks")


if __name__ == "__main__":
    main()
