"""The platform data set: incremental exports that, run again and again with the high-water mark, take every change
exactly once, also while sales commit out of order on PostgreSQL; the files' formats; the audit entry; the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from subsidy.core import clock, db
from subsidy.core.errors import NotFound, Refused
from subsidy.models import AuditEntry, Delivery, Household, Registration, Slip, SlipLine, SpotCheck, Town
from subsidy.reports import platform
from subsidy.supply import depots
from tests.factories import sales as f
from tests.factories.registry import new_id_number, user, village
from tests.factories.settlement import approved_registrations, make_slip, supplier
from tests.factories.supply import add_batch

DOCS = Path(__file__).resolve().parents[3] / "docs" / "platform-export.md"


def export(engine, name: str, since: str | None = None, actor=None) -> tuple[list[dict], str, bytes]:
    """One file as the API streams it: (rows as dicts, the high-water mark, the bytes)."""
    snapshot = platform.open_snapshot(engine, since)
    data = b"".join(platform.stream_csv(engine, actor, name, snapshot))
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))), snapshot.high_water_mark, data


def settled(engine) -> int:
    """A mark that an export reaching it has taken every change committed so far: on PostgreSQL a transaction id
    taken now (an export's horizon may stand below it a while, when a transaction such as autovacuum's ANALYZE was
    running as it began: it holds rows back, and a later export takes them); on SQLite 0 (an export there sees every
    commit before it)."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.begin() as connection:
        return int(connection.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one())


def export_all(engine, name: str, since: str | None = None, actor=None) -> tuple[list[dict], str, bytes]:
    """`export`, then again from each mark until the mark has passed every change committed before the call: the
    rows of all of them (and the first one's bytes)."""
    target = settled(engine)
    rows, mark, data = export(engine, name, since, actor)
    for _ in range(400):
        if platform.parse_since(mark) > target:
            return rows, mark, data
        time.sleep(0.05)
        more, mark, _ = export(engine, name, mark, actor)
        rows += more
    raise AssertionError(f"the high-water mark stood below {target} for 20 s")


def beside(writers: list[threading.Thread], exporter, stop: threading.Event) -> None:
    """Run the writers with the exporter exporting again and again beside them, until they are done."""
    reader = threading.Thread(target=exporter)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()


def horizon_past(engine, target: int) -> None:
    """Wait until an export's horizon has passed `target` (see `settled`)."""
    for _ in range(400):
        snapshot = platform.open_snapshot(engine, None)
        snapshot.close()
        if snapshot.horizon > target:
            return
        time.sleep(0.05)
    raise AssertionError(f"the horizon stood below {target} for 20 s")


def add_household(engine, name="新住户") -> int:
    with db.transaction(engine) as s:
        household = Household(village_id=village(s, "dongguan").id, head_name=name, id_number=new_id_number(),
                              address="东关村9组", category="ordinary")
        s.add(household)
        s.flush()
        return household.id


def awkward_rows(engine) -> dict:
    """Rows whose cells test a CSV writer: commas, quotes, line ends, backslashes, tabs and \\x01 in text, empty
    text and NULLs, datetimes with microseconds, dates, booleans both ways, lab values missing, a frozen batch, a
    delivery and a spot check, a voided slip. Returns their ids."""
    moment = datetime(2026, 12, 2, 23, 59, 59, 987654, tzinfo=timezone.utc)
    with db.transaction(engine) as s:
        dongguan = village(s, "dongguan")
        odd = Household(village_id=dongguan.id, head_name='王,"小"\n明', id_number=new_id_number(),
                        address="东关\\村\t3组\r\n5号", category="ordinary")
        empty = Household(village_id=dongguan.id, head_name="李四", id_number=new_id_number(), address="",
                          category="low_income")
        marked = Household(village_id=dongguan.id, head_name="赵\x01五", id_number=new_id_number(),
                           address='"东关",\x01', category="ordinary")  # the COPY path's marker byte, typed in
        s.add_all([odd, empty, marked])
        batch = f.batch(s, report_no='BG-"1",2')
        batch.moisture_cpct, batch.strength_n, batch.arrival_date = 850, 0, None
        batch.frozen_at, batch.producer = moment, "某,煤业\n公司"
        coal_a = supplier(s, "coal-a")
        registrations = approved_registrations(s, "dongguan")
        slip = make_slip(s, supplier=coal_a, registration=registrations[0], issued_on=date(2026, 12, 3), coal_kg=1000)
        voided = make_slip(s, supplier=coal_a, registration=registrations[1], issued_on=date(2026, 12, 3),
                           coal_kg=500, status="voided")
        voided.void_reason, voided.voided_at = '录错,重"开"', moment
        s.add(Delivery(slip_id=slip.id, supplier_id=slip.supplier_id, town_id=slip.town_id,
                       delivered_on=date(2026, 12, 4), receiver='张"三"', receiver_is_head=False,
                       recorded_at=moment - timedelta(days=1, microseconds=1)))
        s.add(SpotCheck(batch_id=batch.id, supplier_id=batch.supplier_id, season_id=batch.season_id,
                        sampled_on=date(2026, 12, 5), place="", sampler="质监,站", lab="省检", report_no="CJ-1",
                        volatile_cpct=1200, sulfur_cpct=60, ash_cpct=1800, calorific_kj_kg=21000,
                        passed=False, failed_reasons="挥发分 12.00% 超过 10.00%\n全硫超标"))
        s.flush()
        return {"households": [odd.id, empty.id], "batch": batch.id, "slips": [slip.id, voided.id]}


def ids(rows, key="household_id") -> list[int]:
    return [int(r[key]) for r in rows]


def test_an_export_then_one_from_its_mark_gives_only_what_changed_since(engine, demo):
    first, mark, _ = export(engine, "households")
    assert ids(first) == sorted(ids(first)) and len(first) > 10
    again, same_mark, _ = export(engine, "households", mark)
    assert again == [] and same_mark >= mark
    new_id = add_household(engine)
    with db.transaction(engine) as s:  # an edit is a change too: the row comes again, in its new state
        s.execute(update(Household).where(Household.id == ids(first)[0]).values(address="新地址1号"))
    changed, _, _ = export_all(engine, "households", same_mark)
    assert ids(changed) == [ids(first)[0], new_id]
    assert changed[0]["address"] == "新地址1号"


def test_the_households_file_carries_the_whole_id_number_and_no_phone(engine, demo):
    rows, _, data = export(engine, "households")
    with db.new_session(engine) as s:
        household = s.get(Household, int(rows[0]["household_id"]))
        assert rows[0]["id_number"] == household.id_number and len(household.id_number) == 18
        assert household.phone and household.phone.encode() not in data
    assert "phone" not in rows[0]


def test_slips_and_their_lines_come_with_their_slip_and_again_when_it_changes(engine, demo):
    _, mark, _ = export(engine, "slips")
    with db.transaction(engine) as s:
        slip = make_slip(s, supplier=supplier(s, "coal-a"), registration=approved_registrations(s, "dongguan")[0],
                         issued_on=date.today(), coal_kg=1200)
        slip_id, amount, subsidy = slip.id, slip.amount_fen, slip.subsidy_fen
    slips, next_mark, _ = export_all(engine, "slips", mark)
    lines, _, _ = export_all(engine, "slip_lines", mark)
    assert ids(slips, "slip_id") == [slip_id] and ids(lines, "slip_id") == [slip_id]
    assert (int(slips[0]["amount_fen"]), int(slips[0]["subsidy_fen"])) == (amount, subsidy)
    assert int(slips[0]["household_pays_fen"]) == amount - subsidy
    with db.transaction(engine) as s:
        s.execute(update(Slip).where(Slip.id == slip_id).values(status="voided", void_reason="录错"))
    voided, _, _ = export_all(engine, "slips", next_mark)
    assert [(int(r["slip_id"]), r["status"]) for r in voided] == [(slip_id, "voided")]


def test_a_since_that_is_not_a_mark_is_refused_and_an_unknown_file_is_not_found(engine):
    for bad in ("2026-12-01T00:00:00", "hw1-x", "hw2-5", "-1", "hw1-999999999999"):  # the last: from no mark here
        with pytest.raises(Refused) as refused:
            platform.open_snapshot(engine, bad)
        assert "since" in refused.value.errors
    with pytest.raises(NotFound):
        platform.parse_filename("passwords.csv")
    with pytest.raises(NotFound):
        platform.parse_filename("slips.pdf")


def test_the_xlsx_has_text_cells_for_id_numbers_and_number_cells_with_formats_for_money(engine, demo, tmp_path):
    with db.transaction(engine) as s:
        make_slip(s, supplier=supplier(s, "coal-a"), registration=approved_registrations(s, "dongguan")[0],
                  issued_on=date.today(), coal_kg=1500)
    snapshot = platform.open_snapshot(engine, None)
    for name in ("households", "slips"):
        written = platform.Written(name, name)
        platform.write_xlsx(snapshot, platform.DATASETS[name], written, tmp_path / f"{name}.xlsx")
    snapshot.close()
    households = load_workbook(tmp_path / "households.xlsx")["households"]
    names = [c.value for c in households[2]]
    id_cell = households.cell(row=3, column=names.index("id_number") + 1)
    assert id_cell.data_type == "s" and id_cell.number_format == "@" and len(id_cell.value) == 18
    slips = load_workbook(tmp_path / "slips.xlsx")["slips"]
    names = [c.value for c in slips[2]]
    amount = slips.cell(row=3, column=names.index("amount_fen") + 1)
    coal = slips.cell(row=3, column=names.index("coal_kg") + 1)
    assert amount.data_type == "n" and amount.number_format == "#,##0.00"
    assert coal.data_type == "n" and coal.value == 1500 and coal.number_format == "#,##0"
    assert slips.cell(row=3, column=names.index("number") + 1).data_type == "s"


def test_every_export_is_in_the_audit_log_with_who_and_which_rows(engine, demo):
    with db.new_session(engine) as s:
        drc = user(s, "drc")
    rows, mark, data = export(engine, "households", actor=drc)
    with db.new_session(engine) as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "platform.exported")
                          .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    after = json.loads(entry.after)
    assert entry.username == "drc" and entry.entity_id == "households.csv"
    assert after["since"] == "hw1-0" and after["high_water_mark"] == mark and after["complete"]
    assert after["files"][0]["rows"] == len(rows) and after["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert after["files"][0]["first_id"] == ids(rows)[0] and after["files"][0]["last_id"] == ids(rows)[-1]
    assert rows[0]["id_number"] not in entry.after  # the log never carries an ID number


@pytest.mark.pg_only(reason="commits out of the order of transaction ids need PostgreSQL's concurrent writers")
def test_rows_committed_during_an_export_come_in_the_next_one_and_none_twice(engine, demo):
    """T-old began (and took its id) before the first export and commits after it; T-new began after T-old and
    committed before the export. The first export may see T-new's row but must leave it for the next one, because
    T-old, older, was still running: both rows come in the second export, neither in the first."""
    _, mark, _ = export(engine, "households")
    old = engine.connect()
    old_tx = old.begin()
    vid = old.execute(text("SELECT id FROM village WHERE code = 'dongguan'")).scalar()
    pending = Household(village_id=vid, head_name="早开始晚提交", id_number=new_id_number(), address="某处",
                        category="ordinary")
    held = Session(bind=old)
    held.add(pending)
    held.flush()
    pending_id = pending.id
    new_id = add_household(engine, "晚开始早提交")
    during, during_mark, _ = export(engine, "households", mark)
    assert during == []  # T-new is visible, but above the horizon that T-old holds back
    old_tx.commit()  # the session joined the connection's transaction: this commits T-old
    old.close()
    after, _, _ = export_all(engine, "households", during_mark)
    assert sorted(ids(after)) == sorted([pending_id, new_id])


def test_exports_run_again_and_again_under_concurrent_writers_take_every_row_exactly_once(engine, demo):
    """Writers add households in many small transactions while an exporter exports from its last mark again and
    again; a last export after the writers stop. Every household appears in exactly one export."""
    _, mark, _ = export(engine, "households")
    stop = threading.Event()
    written: list[int] = []
    errors: list[Exception] = []

    def writer():
        try:
            for _ in range(15):
                written.append(add_household(engine))
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    seen: list[int] = []

    def exporter():
        nonlocal mark
        while not stop.is_set():
            rows, mark, _ = export(engine, "households", mark)
            seen.extend(ids(rows))

    beside([threading.Thread(target=writer) for _ in range(3)], exporter, stop)
    rows, _, _ = export_all(engine, "households", mark)
    seen.extend(ids(rows))
    assert not errors
    assert sorted(seen) == sorted(written) and len(seen) == 45


def test_the_set_is_written_with_a_manifest_of_counts_and_hashes_and_the_cli_keeps_the_mark(engine, demo, tmp_path,
                                                                                           capsys):
    from subsidy import cli

    mark_file = tmp_path / "mark.txt"
    assert cli.main(["export", str(tmp_path / "night1"), "--mark-file", str(mark_file), "--no-xlsx"]) == 0
    manifest = json.loads((tmp_path / "night1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["since"] == "hw1-0" and mark_file.read_text().strip() == manifest["high_water_mark"]
    assert [f["file"] for f in manifest["files"]] == [f"{name}.csv" for name in platform.DATASETS]
    for entry in manifest["files"]:
        data = (tmp_path / "night1" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data.decode("utf-8-sig").splitlines()) == entry["rows"] + 1
    new_id = add_household(engine)
    horizon_past(engine, settled(engine))  # a horizon held back would leave it for the third night
    assert cli.main(["export", str(tmp_path / "night2"), "--mark-file", str(mark_file)]) == 0
    second = json.loads((tmp_path / "night2" / "manifest.json").read_text(encoding="utf-8"))
    counts = {f["file"]: f["rows"] for f in second["files"]}
    assert counts["households.csv"] == counts["households.xlsx"] == 1
    assert second["files"][0]["first_id"] == new_id
    assert "high_water_mark=" in capsys.readouterr().out


def test_the_docs_page_is_written_from_the_code_and_current():
    docs = DOCS.read_text(encoding="utf-8")
    assert platform.GENERATED in docs, "the docs page lost its GENERATED line"
    assert docs.split(platform.GENERATED)[1].strip("\n") == platform.docs_section().strip("\n"), (
        "docs/platform-export.md is not current: run platform.write_docs() (see its GENERATED line)")
    for ds in platform.DATASETS.values():
        assert f"## {ds.name}" in docs, ds.name
        for column in ds.columns:
            assert f"| `{column.name}` |" in docs, (ds.name, column.name)


def test_an_interrupted_download_is_logged_as_such_and_the_same_call_again_gives_the_whole_file(engine, demo,
                                                                                                monkeypatch):
    monkeypatch.setattr(platform, "CHUNK_CHARS", 300)  # several chunks, on either path
    with db.new_session(engine) as s:
        drc = user(s, "drc")
    whole, mark, data = export(engine, "households")
    stream = platform.stream_csv(engine, drc, "households", platform.open_snapshot(engine, None))
    first = next(stream)
    stream.close()  # the client went away after the first chunk
    sent = first.decode("utf-8-sig").count("\r\n") - 1  # its rows, without the header
    assert 0 < sent < len(whole) and data.startswith(first)
    with db.new_session(engine) as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "platform.exported")
                          .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    after = json.loads(entry.after)
    assert entry.username == "drc" and not after["complete"] and after["since"] == "hw1-0"
    assert after["files"][0]["rows"] == sent and after["files"][0]["first_id"] == ids(whole)[0]
    assert after["files"][0]["last_id"] == ids(whole)[sent - 1]
    again, _, same = export(engine, "households")  # nothing was used up: the same call gives it all again
    assert same == data and ids(again) == ids(whole)
    assert export(engine, "households", mark)[0] == []


def test_the_new_files_carry_deliveries_spot_checks_and_the_batches_lab_values(engine, demo, tmp_path):
    marks = {name: export(engine, name)[1] for name in ("deliveries", "spot_checks")}
    made = awkward_rows(engine)  # after the marks: their change markers (migration 0016_h_platform) take them
    deliveries, delivered_mark, _ = export_all(engine, "deliveries", marks["deliveries"])
    assert [(int(r["slip_id"]), r["delivered_on"], r["receiver"], r["receiver_is_head"], r["has_photo"])
            for r in deliveries] == [(made["slips"][0], "2026-12-04", '张"三"', "0", "0")]
    assert deliveries[0]["recorded_at"] == "2026-12-01T23:59:59Z"
    with db.transaction(engine) as s:  # an edit stamps the row again
        s.execute(update(Delivery).where(Delivery.slip_id == made["slips"][0]).values(receiver="张三"))
    again, _, _ = export_all(engine, "deliveries", delivered_mark)
    assert [(int(r["slip_id"]), r["receiver"]) for r in again] == [(made["slips"][0], "张三")]
    checks, _, _ = export_all(engine, "spot_checks", marks["spot_checks"])
    assert [(int(r["batch_id"]), r["passed"], r["volatile_cpct"], r["mercury_ng_g"], r["sampler"]) for r in checks] \
        == [(made["batch"], "0", "1200", "", "质监,站")]
    batches = {int(r["batch_id"]): r for r in export_all(engine, "batches")[0]}
    frozen = batches[made["batch"]]
    assert (frozen["moisture_cpct"], frozen["strength_n"], frozen["drop_cpct"], frozen["arrival_date"]) == \
        ("850", "0", "", "")
    assert frozen["frozen_at"] == "2026-12-02T23:59:59Z" and frozen["producer"] == "某,煤业\n公司"
    assert all(r["frozen_at"] == "" for key, r in batches.items() if key != made["batch"])
    snapshot = platform.open_snapshot(engine, None)
    for name in ("batches", "deliveries"):
        platform.write_xlsx(snapshot, platform.DATASETS[name], platform.Written(name, name), tmp_path / f"{name}.xlsx")
    snapshot.close()
    sheet = load_workbook(tmp_path / "batches.xlsx")["batches"]
    names = [c.value for c in sheet[2]]
    row = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == made["batch"])
    cell = {name: row[i] for i, name in enumerate(names)}
    assert cell["moisture_cpct"].data_type == "n" and cell["moisture_cpct"].value == 850
    assert cell["mercury_ng_g"].value is None and cell["passed"].value == "是"
    assert cell["frozen_at"].is_date and cell["frozen_at"].value == datetime(2026, 12, 2, 23, 59, 59)
    assert cell["report_no"].data_type == "s" and cell["report_no"].value == 'BG-"1",2'
    delivered = load_workbook(tmp_path / "deliveries.xlsx")["deliveries"]
    names = [c.value for c in delivered[2]]
    assert delivered.cell(row=3, column=names.index("delivered_on") + 1).is_date
    assert delivered.cell(row=3, column=names.index("receiver_is_head") + 1).value == "否"


def test_exports_under_concurrent_sales_take_every_slip_and_its_lines_exactly_once(engine, demo):
    """Sales commit while an exporter exports slips and their lines from its last mark again and again: every slip
    and every line comes exactly once (none changes after its sale here), in one export with its lines."""
    _, mark, _ = export(engine, "slips")
    with db.transaction(engine) as s:
        registrations = [f.household(s, ("dongguan", "xiguan")[i % 2])[1].id for i in range(18)]
    groups = [registrations[i::3] for i in range(3)]
    sold: list[int] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def seller(group):
        try:
            for registration_id in group:
                with db.transaction(engine) as s:
                    registration = s.get(Registration, registration_id)
                    slip = make_slip(s, supplier=supplier(s, "coal-a"), registration=registration,
                                     issued_on=date.today(), coal_kg=100, stoves=1 if registration_id % 2 else 0)
                    s.flush()
                    sold.append(slip.id)
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    seen_slips: list[int] = []
    seen_lines: dict[int, list[int]] = {}

    def exporter():
        nonlocal mark
        try:
            while not stop.is_set():
                snapshot = platform.open_snapshot(engine, mark)
                try:
                    slips = [int(r["slip_id"]) for r in _rows(snapshot, "slips")]
                    lines = _rows(snapshot, "slip_lines")
                finally:
                    snapshot.close()
                mark = snapshot.high_water_mark
                seen_slips.extend(slips)
                for line in lines:
                    seen_lines.setdefault(int(line["slip_id"]), []).append(int(line["line_id"]))
                if {int(line["slip_id"]) for line in lines} != set(slips):  # one snapshot: a slip with its lines
                    errors.append(AssertionError(f"slips {slips} came without their lines or the other way"))
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    beside([threading.Thread(target=seller, args=(group,)) for group in groups], exporter, stop)
    target = settled(engine)
    while platform.parse_since(mark) <= target:  # the last exports, until every sale is behind the mark
        snapshot = platform.open_snapshot(engine, mark)
        seen_slips.extend(int(r["slip_id"]) for r in _rows(snapshot, "slips"))
        for line in _rows(snapshot, "slip_lines"):
            seen_lines.setdefault(int(line["slip_id"]), []).append(int(line["line_id"]))
        snapshot.close()
        mark = snapshot.high_water_mark
    assert not errors
    assert sorted(seen_slips) == sorted(sold) and len(sold) == len(registrations)
    with db.new_session(engine) as s:
        lines: dict[int, list[int]] = {}
        for slip_id, line_id in s.execute(select(SlipLine.slip_id, SlipLine.id).where(SlipLine.slip_id.in_(sold))):
            lines.setdefault(slip_id, []).append(line_id)
    assert {k: sorted(v) for k, v in seen_lines.items()} == {k: sorted(v) for k, v in lines.items()}


def _rows(snapshot, name: str) -> list[dict]:
    """One file of an open snapshot, read back (the export's audit entry is left out: no actor, no record)."""
    written = platform.Written(name, name)
    data = b"".join(platform.csv_chunks(snapshot, platform.DATASETS[name], written))
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_batches_file_names_each_batchs_depot_and_town_and_a_renamed_depot_sends_its_batches_again(engine, demo):
    arrived = clock.today() - timedelta(days=10)
    with db.transaction(engine) as s:
        coal_a = user(s, "coal-a")
        caiyuan, daimiao = (s.execute(select(Town.id).where(Town.code == code)).scalar_one()
                            for code in ("caiyuan", "daimiao"))
        depot = depots.create(s, coal_a, coal_a.supplier_id, depots.DepotInput("东关保供点", "东关村1组", caiyuan))
        at_depot = add_batch(s, report_no="JC-PF-DEPOT", depot_id=depot.id, arrival_date=arrived,
                             report_date=arrived + timedelta(days=1)).id
        nowhere = add_batch(s, report_no="JC-PF-NONE").id
    rows, mark, _ = export_all(engine, "batches")
    found = {int(r["batch_id"]): r for r in rows}
    assert (found[at_depot]["depot_id"], found[at_depot]["depot_name"], found[at_depot]["depot_town"],
            found[at_depot]["report_date"]) == (str(depot.id), "东关保供点", "财源街道",
                                                 (arrived + timedelta(days=1)).isoformat())
    assert (found[nowhere]["depot_id"], found[nowhere]["depot_name"], found[nowhere]["depot_town"],
            found[nowhere]["report_date"]) == ("", "", "", "")
    assert list(rows[0])[-4:] == ["report_date", "depot_id", "depot_name", "depot_town"]  # added at the end
    assert platform.DATASETS["batches"].version == 1  # a column added keeps the version (docs/platform-export.md)
    with db.transaction(engine) as s:
        depots.update(s, user(s, "drc"), depot.id, depots.DepotInput("东关中心保供点", "东关村2组", daimiao))
    again, mark, _ = export_all(engine, "batches", mark)
    assert [(int(r["batch_id"]), r["depot_name"], r["depot_town"]) for r in again] == \
        [(at_depot, "东关中心保供点", "岱庙街道")]
    with db.transaction(engine) as s:  # a new address alone changes nothing the file carries
        depots.update(s, user(s, "drc"), depot.id, depots.DepotInput("东关中心保供点", "东关村3组", daimiao))
    assert export_all(engine, "batches", mark)[0] == []
