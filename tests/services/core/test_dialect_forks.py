"""Every dialect fork in subsidy/ (PostgreSQL's faster statement beside the portable one any other database runs,
marked `# DIALECT FORK (bench: …)`) run both ways on PostgreSQL: the same scenario on two copies of one database,
one copy through each branch (`db.portable`), leaves every table identical row for row (ids, numbers, stock, sold
quantities, summaries, idempotent answers, the audit chain with its hashes) and answers the caller alike. Each test
also checks that each branch really ran (the statements sent), so that a selector that stopped working fails here.
The census at the bottom fails when a fork is added without a test here, or a dialect is tested without a marker."""

from __future__ import annotations

import ast
import os
import re
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event, select, update
from sqlmodel import SQLModel

from subsidy.core import audit, clock, db, idempotency
from web.api.sales import issued_json
from subsidy.core.errors import SubsidyError
from subsidy.models import AuditEntry, Contract, Slip, SlipStatus, Town, User
from subsidy.reports import platform
from subsidy.rules import months
from subsidy.sales import issuing
from subsidy.settlement import summaries
from subsidy.supply import ledger
from tests.factories import sales as f
from tests.factories.settlement import approved_registrations, make_slip
from tests.services.reports import test_platform as platform_tests  # the module: its tests are collected once
from tests.services.supply.test_ledger import a_busy_fortnight

ROOT = Path(__file__).resolve().parents[3]
pg_only = pytest.mark.pg_only


# ---------------------------------------------------------------------------------------------------------------------
# Two copies of one database, and what each branch sent
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def still(frozen):
    """Time stands still, so that both runs stamp their slips and audit entries alike (the entries' hashes too)."""
    frozen(datetime.now(timezone.utc).replace(microsecond=0))


def _admin(sql: str) -> None:
    admin = sa.create_engine(db.normalise_url(os.environ["TEST_DATABASE_URL"]), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(sql)
    admin.dispose()


@pytest.fixture
def portable_copy(engine):
    """`portable_copy()`: a copy of this test's database as it is at that moment, on an engine whose every dialect
    fork takes its portable branch. Sessions on the original must be closed first (PostgreSQL copies a database only
    while nobody is connected to it). The copies are dropped after the test."""
    made: list[tuple[str, sa.Engine]] = []

    def copy() -> sa.Engine:
        engine.dispose()
        name = f"t_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{engine.url.database}"')
        copied = db.make_engine(engine.url.set(database=name).render_as_string(hide_password=False))
        made.append((name, copied))
        return db.portable(copied)

    yield copy
    for name, copied in made:
        copied.dispose()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Columns that differ between two databases by nature, not by branch: PostgreSQL's transaction ids are one counter
# for the whole server, so the copy's entries carry other ones (the audit sealer's horizon, subsidy/core/audit.py;
# the platform export's change markers, stamped with the writing transaction's id: subsidy/reports/platform.py).
_SERVER_WIDE = {("audit_entry", "xid"), ("audit_seal", "horizon")} | {
    (table.name, "change_seq") for table in SQLModel.metadata.sorted_tables if "change_seq" in table.c}


def every_row(engine) -> dict[str, list[tuple]]:
    """Every table of the schema, in id order."""
    with engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(
                    select(*[c for c in table.c if (table.name, c.name) not in _SERVER_WIDE])
                    .order_by(*table.primary_key))]
                for table in SQLModel.metadata.sorted_tables}


@contextmanager
def statements_sent(engine):
    """The SQL `engine` (and the engines made from it) sends meanwhile, one string per statement, with the COMMITs
    and ROLLBACKs as the words themselves."""
    sent: list[str] = []

    def statement(_conn, _cursor, sql, _params, _context, _many):
        sent.append(sql)

    def commit(_conn):
        sent.append("COMMIT")

    def rollback(_conn):
        sent.append("ROLLBACK")

    hooks = [("before_cursor_execute", statement), ("commit", commit), ("rollback", rollback)]
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        yield sent
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)


def sent_any(sent: list[str], fragment: str) -> bool:
    return any(fragment in sql for sql in sent)


def audit_actions(engine) -> list[str]:
    with db.new_session(engine) as s:
        assert audit.verify(s).ok
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def both_ways(engine, portable, scenario):
    """Run `scenario` on `engine` (PostgreSQL's branches), then on `portable` (the portable ones): what each run
    answered, and the statements each sent."""
    with statements_sent(engine) as fast_sent:
        fast = scenario(engine)
    with statements_sent(portable) as portable_sent:
        other = scenario(portable)
    return fast, other, fast_sent, portable_sent


def assert_the_same_database(engine, portable) -> None:
    fast, other = every_row(engine), every_row(portable)
    for table in fast:
        assert fast[table] == other[table], f"{table} differs between the branches"
    assert audit_actions(engine) == audit_actions(portable)


# ---------------------------------------------------------------------------------------------------------------------
# The sale (subsidy/sales/issuing.py: issue, twice) with its idempotent answers and audit entries
# ---------------------------------------------------------------------------------------------------------------------

def a_counter_ready_to_sell(session) -> dict:
    """coal-a also sells anthracite (400 kg left, less than one sale below wants) and stoves in dongguan's town, and
    has a second briquette batch; four households of dongguan with room for coal and a stove. Committed."""
    a = f.supplier(session, "coal-a")
    town_id = f.village(session, "dongguan").town_id
    season_id = session.execute(select(Contract.season_id).where(Contract.supplier_id == a.id)).scalars().first()
    session.add_all([Contract(supplier_id=a.id, town_id=town_id, season_id=season_id, product="anthracite",
                              price_fen=900_00),
                     Contract(supplier_id=a.id, town_id=town_id, season_id=season_id, product="stove",
                              price_fen=1200_00)])
    f.batch(session, product="anthracite", quantity_kg=400, report_no="JC-ANTHRACITE")
    second = f.batch(session, quantity_kg=20_000, report_no="JC-SECOND")
    households = [f.household(session, "dongguan", coal_kg=3000, stoves=1)[1].id for _ in range(4)]
    ids = {"coal-a": f.user(session, "coal-a").id, "coal-b": f.user(session, "coal-b").id, "second": second.id,
           "households": households}
    session.commit()
    session.close()
    return ids


def sell(engine, clerk_id: int, registration_id: int, *lines: issuing.LineIn, key: str | None = None):
    """A sale as the API makes it (POST /slips: idempotency.once around issuing.issue, one transaction); its
    answer, or the refusal's words."""
    s = db.new_session(engine, write=True)
    try:
        clerk = s.get(User, clerk_id)

        id_number = f.card(s, registration_id)

        def work():
            return 201, issued_json(issuing.issue(s, clerk=clerk, registration_id=registration_id,
                                                  id_number=id_number, lines=list(lines)), clerk)

        payload = {"registration_id": registration_id, "id_number": id_number,
                   "lines": [vars(line) for line in lines]}
        try:
            answer = idempotency.once(s, user_id=clerk_id, key=key, request="POST /slips", payload=payload,
                                      work=work)
            s.commit()
        except SubsidyError as refusal:
            return "refused", refusal.message, refusal.field
        return answer.outcome, answer.body, answer.replayed
    finally:
        s.close()


def a_day_at_the_counter(ids: dict):
    briquette, anthracite, stove = "briquette", "anthracite", "stove"
    r1, r2, r3, r4 = ids["households"]

    def scenario(engine) -> list:
        a, b = ids["coal-a"], ids["coal-b"]
        return [
            sell(engine, a, r1, issuing.LineIn(briquette, 1000), key="first"),  # the season's first number
            sell(engine, a, r1, issuing.LineIn(briquette, 500), key="second"),  # the common sale
            sell(engine, a, r1, issuing.LineIn(briquette, 500), key="second"),  # its retry: replayed
            sell(engine, a, r2, issuing.LineIn(briquette, 300, batch_id=ids["second"])),  # a batch chosen
            sell(engine, a, r2, issuing.LineIn(briquette, 200), issuing.LineIn(anthracite, 100)),  # two coal lines
            sell(engine, a, r3, issuing.LineIn(briquette, 400), issuing.LineIn(stove, 1, serial="SN-FORK-1")),
            sell(engine, a, r4, issuing.LineIn(anthracite, 600)),  # quantities fit, no batch has the stock
            sell(engine, a, r4, issuing.LineIn(briquette, 3001)),  # more than registered: refused before any lock
            sell(engine, b, r4, issuing.LineIn(briquette, 700), key="first"),  # another clerk's key, another number
        ]
    return scenario


@pg_only
def test_both_branches_of_the_sale_write_the_same_slips_numbers_stock_and_answers(engine, demo, still, session,
                                                                                  portable_copy):
    ids = a_counter_ready_to_sell(session)
    portable = portable_copy()
    fast, other, fast_sent, portable_sent = both_ways(engine, portable, a_day_at_the_counter(ids))
    assert fast == other
    assert [answer[0] for answer in fast] == [201, 201, 201, 201, 201, 201, "refused", "refused", 201]
    assert fast[2][2] is True and fast[2][1] == fast[1][1], "the retry answered the first answer again"
    assert "库存足够" in fast[6][1]
    assert_the_same_database(engine, portable)
    assert sent_any(portable_sent, "INSERT INTO slip ") and sent_any(portable_sent, "UPDATE batch SET sold_kg")
    assert sent_any(fast_sent, "WITH taken AS") and not sent_any(portable_sent, "WITH taken AS")
    assert sent_any(fast_sent, "WITH new_slip AS") and not sent_any(portable_sent, "WITH new_slip AS")


# ---------------------------------------------------------------------------------------------------------------------
# The summaries' hand-over (subsidy/settlement/summaries.py: _hand_over)
# ---------------------------------------------------------------------------------------------------------------------

def a_month_of_slips(session) -> dict:
    """coal-a sold to every approved registration of two towns this month, and one slip of last month, set aside and
    released since, waits for this month's summary. Committed."""
    seller = f.supplier(session, "coal-a")
    first_day = clock.today().replace(day=1)
    slips = [make_slip(session, supplier=seller, registration=registration, issued_on=first_day + timedelta(days=n % 3),
                       coal_kg=500 + 100 * (n % 4))
             for n, registration in enumerate(approved_registrations(session, "dongguan")
                                              + approved_registrations(session, "yingxi"))]
    released = make_slip(session, supplier=seller, registration=approved_registrations(session, "dongguan")[0],
                         issued_on=first_day - timedelta(days=3), coal_kg=250)
    released.set_aside_at = clock.now()
    ids = {"clerk": f.user(session, "coal-a").id, "voided": slips[1].id, "released": released.id,
           "waiting": len(slips) + 1}
    session.commit()
    session.close()
    return ids


def build_twice(ids: dict):
    """Build the month, void a slip of it, build again (the drafts are rebuilt): the totals of every build."""
    def build(engine) -> list:
        s = db.new_session(engine, write=True)
        try:
            clerk = s.get(User, ids["clerk"])
            built = db.run_in_transaction(s, lambda: summaries.build_summaries(s, clerk=clerk,
                                                                               month=months.month_of(clock.today())))
            return [(d.id, d.town_id, d.slip_count, d.coal_kg, d.stoves, d.amount_fen, d.subsidy_fen) for d in built]
        finally:
            s.close()

    def scenario(engine) -> list:
        first = build(engine)
        with db.transaction(engine) as s:
            s.execute(update(Slip).where(Slip.id == ids["voided"]).values(status=SlipStatus.VOIDED))
        return [first, build(engine)]
    return scenario


@pg_only
def test_both_branches_of_the_hand_over_build_the_same_summaries(engine, demo, still, session, portable_copy):
    ids = a_month_of_slips(session)
    portable = portable_copy()
    fast, other, fast_sent, portable_sent = both_ways(engine, portable, build_twice(ids))
    assert fast == other
    first, again = fast
    assert len(first) == 2 and sum(d[2] for d in first) == ids["waiting"], "one draft per town, with every slip"
    assert sum(d[2] for d in again) == sum(d[2] for d in first) - 1, "the voided slip left its draft"
    assert_the_same_database(engine, portable)
    with db.new_session(engine) as s:
        assert s.get(Slip, ids["released"]).summary_id in {d[0] for d in first}, "the released slip joined"
    assert sent_any(portable_sent, "UPDATE slip SET summary_id")
    assert sent_any(fast_sent, "WITH moved AS") and not sent_any(portable_sent, "WITH moved AS")


# ---------------------------------------------------------------------------------------------------------------------
# The ledger's sales per day (subsidy/supply/ledger.py: _sales_by_day): a read, so one database, two engines
# ---------------------------------------------------------------------------------------------------------------------

def figures(book: ledger.Ledger) -> dict:
    return {**{name: value for name, value in vars(book).items() if name != "supplier"},
            "supplier": book.supplier.id, "pages": book.pages, "days_left": book.days_left}


@pg_only
def test_both_branches_of_the_ledger_give_the_same_pages_and_totals(engine, demo, session, frozen):
    day = datetime.now(timezone.utc).date()
    frozen(datetime(day.year, day.month, day.day, 4, tzinfo=timezone.utc))  # noon in China
    a_busy_fortnight(session, clock.today())
    session.commit()
    coal_a = f.supplier(session, "coal-a").id
    session.close()

    def pages(engine) -> list:
        with db.new_session(engine, read_only=True) as s:
            books = [ledger.build(s, coal_a, "briquette", page=page, per_page=per_page)
                     for per_page in (1, 4, 7, 50) for page in (1, 2, 5, 99)]
            return [figures(book) for book in books] + [list(ledger.all_rows(s, books[0]))]

    fast, other, fast_sent, portable_sent = both_ways(engine, db.portable(engine), pages)
    assert fast == other
    assert fast[0]["row_count"] > 20 and fast[-1], "a ledger worth comparing"
    assert sent_any(fast_sent, "sales_by_batch") and not sent_any(fast_sent, "count(DISTINCT coalesce")
    assert sent_any(portable_sent, "count(DISTINCT coalesce") and not sent_any(portable_sent, "sales_by_batch")


# ---------------------------------------------------------------------------------------------------------------------
# Ending a read (subsidy/core/db.py: end_read) and resolving a caller (subsidy/core/db.py: new_session)
# ---------------------------------------------------------------------------------------------------------------------

def _town_name(engine) -> str:
    with db.new_session(engine) as s:
        return s.execute(select(Town.name).where(Town.code == "caiyuan")).scalar_one()


def reads_ended(engine) -> list:
    """Sessions that read, or wrote in every way a read must not keep, each ended by end_read: what the caller then
    sees (the session out of its transaction, the town's name as stored, the object it read)."""
    seen = []
    for kind in ("read", "core write", "flushed orm change", "pending orm change", "audit entry"):
        s = db.new_session(engine, read_only=kind in ("read", "pending orm change", "audit entry"),
                           write=kind in ("core write", "flushed orm change"))
        try:
            town = s.execute(select(Town).where(Town.code == "caiyuan")).scalar_one()
            if kind == "core write":
                s.execute(update(Town).where(Town.code == "caiyuan").values(name="改过的名字"))
            elif kind in ("flushed orm change", "pending orm change"):
                town.name = "改过的名字"
                if kind == "flushed orm change":
                    s.flush()
            elif kind == "audit entry":
                audit.record(s, None, "town.viewed", town)
            db.end_read(s)
            seen.append((kind, s.in_transaction(), _town_name(engine), town.name))
        finally:
            s.close()
    return seen


@pg_only
def test_both_branches_of_end_read_end_every_read_alike_and_keep_nothing(engine, demo):
    before = _town_name(engine)
    fast, other, fast_sent, portable_sent = both_ways(engine, db.portable(engine), reads_ended)
    assert fast == other
    assert {name for _, _, name, _ in fast} == {before} and not any(open_ for _, open_, _, _ in fast)
    assert fast_sent.count("COMMIT") == 1, "PostgreSQL's branch commits the read that wrote nothing"
    assert "ROLLBACK" in portable_sent and "COMMIT" not in portable_sent, "the portable branch always rolls back"


def caller(engine) -> tuple:
    """A caller resolved as web/auth.py does: one read on a `single_read` session, ended by end_read."""
    s = db.new_session(engine, single_read=True)
    try:
        user = s.execute(select(User).where(User.username == "coal-a")).scalar_one()
        autocommit = s.connection().connection.dbapi_connection.autocommit
        s.expunge(user)
        db.end_read(s)
        return (user.id, user.role, s.in_transaction()), autocommit
    finally:
        s.close()


@pg_only
def test_both_branches_of_a_single_read_resolve_the_same_caller(engine, demo):
    (fast, fast_autocommit), (other, portable_autocommit), _, portable_sent = both_ways(engine, db.portable(engine),
                                                                                       caller)
    assert fast == other and fast[2] is False
    assert fast_autocommit and not portable_autocommit, "PostgreSQL's branch reads outside any transaction"
    assert "ROLLBACK" in portable_sent


# ---------------------------------------------------------------------------------------------------------------------
# The platform data set (subsidy/reports/platform.py: csv_chunks): PostgreSQL's COPY beside Python's csv writer
# ---------------------------------------------------------------------------------------------------------------------

@pg_only
def test_both_branches_of_the_platform_export_write_every_file_byte_for_byte_alike(engine, demo, tmp_path,
                                                                                     monkeypatch):
    ids = platform_tests.awkward_rows(engine)
    copied: list[str] = []
    real = platform.copy_chunks

    def spy(snapshot, ds, written):
        copied.append(ds.name)
        return real(snapshot, ds, written)

    monkeypatch.setattr(platform, "copy_chunks", spy)
    monkeypatch.setattr(platform, "CHUNK_CHARS", 2000)  # several chunks a file, on both branches
    made, ran = {}, {}
    target = platform_tests.settled(engine)
    for name, bind in (("pg", engine), ("portable", db.portable(engine))):
        for _ in range(100):  # until its horizon is past the rows above (a running ANALYZE may hold it back)
            made[name] = platform.write_set(bind, None, None, tmp_path / name, xlsx=False)
            ran[name], copied[:] = list(copied), []
            if platform.parse_since(made[name]["high_water_mark"]) > target:
                break
    assert ran == {"pg": list(platform.DATASETS), "portable": []}
    assert made["pg"]["files"] == made["portable"]["files"]  # rows, first and last ids, SHA-256
    for ds in platform.DATASETS.values():
        fast = (tmp_path / "pg" / f"{ds.name}.csv").read_bytes()
        assert fast == (tmp_path / "portable" / f"{ds.name}.csv").read_bytes(), ds.name
        assert made["pg"]["files"][list(platform.DATASETS).index(ds.name)]["rows"] or ds.name == "settlements", ds.name
    households = (tmp_path / "pg" / "households.csv").read_bytes()
    assert '"王,""小""\n明"'.encode() in households and "\"东关\\村\t3组\r\n5号\"".encode() in households
    batches = (tmp_path / "pg" / "batches.csv").read_bytes().decode("utf-8-sig")
    assert ",2026-12-02T23:59:59Z," in batches and f"\r\n{ids['batch']}," in batches


# ---------------------------------------------------------------------------------------------------------------------
# The census: every marked fork has its test above, and nothing tests the dialect without a marker
# ---------------------------------------------------------------------------------------------------------------------

from tests.services.oversight import test_anomalies as anomaly_tests  # noqa: E402  (the module: its test runs there)

MARKER = re.compile(r"\s*# DIALECT FORK \(bench: (scripts/bench_\w+\.py)\): \S")
MEANT_AS_A_MARKER = re.compile(r"\s*#\s*DIALECT FORK", re.IGNORECASE)

# (module, function) of every marked fork, as many times as it forks, and the test above that runs both branches.
TESTED = {
    ("subsidy/sales/issuing.py", "issue"):
        (2, test_both_branches_of_the_sale_write_the_same_slips_numbers_stock_and_answers),
    ("subsidy/settlement/summaries.py", "_hand_over"):
        (1, test_both_branches_of_the_hand_over_build_the_same_summaries),
    ("subsidy/supply/ledger.py", "_sales_by_day"):
        (1, test_both_branches_of_the_ledger_give_the_same_pages_and_totals),
    ("subsidy/core/db.py", "end_read"):
        (1, test_both_branches_of_end_read_end_every_read_alike_and_keep_nothing),
    ("subsidy/core/db.py", "new_session"):
        (1, test_both_branches_of_a_single_read_resolve_the_same_caller),
    ("subsidy/oversight/anomalies.py", "_flags"):
        (1, anomaly_tests.test_both_branches_of_the_fork_find_the_same_flags),
    ("subsidy/reports/platform.py", "csv_chunks"):
        (1, test_both_branches_of_the_platform_export_write_every_file_byte_for_byte_alike),
}

# Where subsidy/ may look at the dialect without a marker, and why that is no fork.
NOT_FORKS = {
    ("subsidy/oversight/anomalies.py", "run"): "PostgreSQL's advisory lock (one runner among several processes), its "
                                              "work_mem for the sorts and the rules' planner settings (SET LOCAL: "
                                              "the plan changes, not the result); SQLite has one writer anyway",
    ("subsidy/core/paging.py", "exact_count"): "the time limit of an exact count exists on PostgreSQL only; SQLite "
                                               "counts a district's rows without one",
    ("subsidy/core/db.py", "is_sqlite"): "a question, not a branch",
    ("subsidy/core/db.py", "pg_branch"): "the switch every fork reads",
    ("subsidy/core/db.py", "new_session"): "SQLite's BEGIN IMMEDIATE and PostgreSQL's READ ONLY are each database's "
                                           "own guard, with no portable statement beside them",
    ("subsidy/core/idempotency.py", "_claim"): "the same statement on both; only SQLAlchemy's construct differs",
    ("subsidy/accounts/throttle.py", "_count"): "the same upsert on both; only SQLAlchemy's construct differs",
    ("subsidy/core/audit.py", "_write_pending"): "PostgreSQL's entries record their transaction id for the sealer's "
                                                 "horizon; SQLite commits in id order and needs none",
    ("subsidy/reports/platform.py", "open_snapshot"): "the export's horizon is each database's own rule (transaction "
                                                      "ids on PostgreSQL, an epoch on SQLite): neither is sound on "
                                                      "the other, so there is no portable statement beside it",
    ("subsidy/core/audit.py", "seal"): "commit order differs from id order on PostgreSQL only: the portable rule "
                                       "would pass entries over there, so there is none to run beside it "
                                       "(tests/services/core/test_audit.py holds both rules)",
}
LOOKS_AT_THE_DIALECT = re.compile(r"\.dialect\.name\b|\bpg_branch\(|\bis_sqlite\(")


def _functions(path: Path) -> list[tuple[int, int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.end_lineno, node.name) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _enclosing(functions, line: int) -> str:
    inside = [(start, name) for start, end, name in functions if start <= line <= end]
    return max(inside)[1] if inside else "<module>"


def _census():
    marked: Counter = Counter()
    benches: set[str] = set()
    looks: Counter = Counter()
    for path in sorted((ROOT / "subsidy").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        functions = _functions(path)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if MEANT_AS_A_MARKER.match(line):
                found = MARKER.match(line)
                assert found, f"{module}:{number}: a marker reads `# DIALECT FORK (bench: scripts/bench_x.py): why`"
                marked[(module, _enclosing(functions, number + 1))] += 1
                benches.add(found.group(1))
            elif LOOKS_AT_THE_DIALECT.search(line.split("#")[0]) and not line.lstrip().startswith("def "):
                looks[(module, _enclosing(functions, number))] += 1
    return marked, benches, looks


def test_every_marked_dialect_fork_is_run_both_ways_by_a_test_here():
    marked, benches, _ = _census()
    assert marked == Counter({where: count for where, (count, _) in TESTED.items()})
    assert all(test.pytestmark[0].name == "pg_only" for _, test in TESTED.values())
    assert all((ROOT / bench).is_file() for bench in benches), benches


def test_nothing_in_subsidy_branches_on_the_dialect_outside_a_marked_fork():
    marked, _, looks = _census()
    unmarked = {where for where in looks if where not in marked and where not in NOT_FORKS}
    assert unmarked == set(), "a dialect fork needs its marker and a test here"


def test_only_tests_make_a_portable_engine():
    callers = [path.relative_to(ROOT).as_posix() for folder in ("subsidy", "web", "scripts")
               for path in (ROOT / folder).rglob("*.py") if "portable(" in path.read_text(encoding="utf-8")]
    assert callers == ["subsidy/core/db.py"]
