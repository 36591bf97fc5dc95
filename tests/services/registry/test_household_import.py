"""The registration form as a spreadsheet: import (file and command line), export, and the round trip."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from subsidy.core import db, vault
from subsidy.registry import households, spreadsheet
from subsidy import cli
from subsidy.registry.spreadsheet import HEADER, ImportRefused
from subsidy.models import AuditEntry, Household, Registration
from subsidy.core.scope import Scope
from tests.factories.registry import new_id_number, read_xlsx, row, user, village, xlsx


def counts(engine):
    with db.new_session(engine) as s:
        return (s.execute(select(func.count()).select_from(Household)).scalar_one(),
                s.execute(select(func.count()).select_from(Registration)).scalar_one())


def run(engine, data: bytes, actor_name: str | None = None, dry_run=False):
    reader = db.new_session(engine)
    actor = None
    if actor_name:
        actor = user(reader, actor_name)
        reader.expunge(actor)
    reader.close()
    s = db.new_session(engine, write=True, scope=Scope.of(actor) if actor else None)
    try:
        result = spreadsheet.import_file(s, actor, io.BytesIO(data))
        s.rollback() if dry_run else s.commit()
        return result
    finally:
        s.close()


def test_good_rows_are_imported_and_refused_rows_are_listed_by_row_number(demo, engine):
    before = counts(engine)
    data = xlsx([
        row(),
        row(id_number="37090219750231123X"),  # 31 February
        row(name="王"),
        row(coal="3.001"),
        row(village_code="huanshan", coal="1", stoves=0),
        row(coal="1.2345"),
        row(village_code="西关社区", category="低保", coal=2, stoves=None),
        row(village_code="nowhere"),
        row(phone="12345"),
    ])
    result = run(engine, data)
    assert (result.imported, result.updated) == (2, 0)
    assert [(e.row, e.field) for e in result.refused] == [
        (3, "身份证号码"), (4, "户主姓名"), (5, "洁净煤(吨)"), (6, "洁净煤(吨)"), (7, "洁净煤(吨)"), (9, "村(社区)"),
        (10, "联系电话")]
    assert result.refused[3].reason == "环山村位于禁煤区，不能登记购买洁净煤"
    assert "最多保留3位小数" in result.refused[4].reason
    assert counts(engine) == (before[0] + 2, before[1] + 2)


def test_importing_the_same_file_twice_changes_nothing_the_second_time(demo, engine):
    data = xlsx([row(), row(coal=None, stoves=None), row(name="坏")])
    first = run(engine, data)
    assert (first.imported, first.updated, first.refused_count) == (2, 0, 1)
    after_first = counts(engine)
    with db.new_session(engine) as s:
        entries = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    second = run(engine, data)
    assert (second.imported, second.updated, second.refused_count) == (0, 0, 1)
    assert second.unchanged == 2
    assert counts(engine) == after_first
    with db.new_session(engine) as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == entries


def test_a_wrong_header_refuses_the_whole_file_saying_what_was_expected(demo, engine):
    before = counts(engine)
    data = xlsx([row()], header=["村", "姓名", "身份证号码", "联系电话", "住址", "户类别", "洁净煤(吨)", "炉具(台)"])
    with pytest.raises(ImportRefused) as refused:
        run(engine, data)
    assert "、".join(HEADER) in refused.value.message
    assert counts(engine) == before


def test_a_file_that_is_not_a_spreadsheet_is_refused(demo, engine):
    with pytest.raises(ImportRefused):
        run(engine, b"this is not a zip file")


def test_a_dry_run_reports_the_same_and_changes_nothing(demo, engine):
    before = counts(engine)
    result = run(engine, xlsx([row(), row(name="坏")]), dry_run=True)
    assert (result.imported, result.refused_count) == (1, 1)
    assert counts(engine) == before


def test_an_id_number_twice_in_one_file_or_already_in_another_village_is_refused(demo, engine):
    same = new_id_number()
    result = run(engine, xlsx([row(id_number=same), row(id_number=same)]))
    assert [(e.row, e.reason) for e in result.refused] == [(3, "与第2行的身份证号码重复")]
    result = run(engine, xlsx([row(village_code="yingxi", id_number=same)]))
    assert [(e.row, e.reason) for e in result.refused] == [(2, "该身份证号码已在东关村登记")]
    result = run(engine, xlsx([row(village_code="yingxi", id_number=same)]), actor_name="yingxi")
    assert [(e.row, e.reason) for e in result.refused] == [(2, "该身份证号码已在本区其他村（社区）登记")]


def test_an_id_number_typed_as_a_number_is_refused_as_it_has_lost_digits(demo, engine):
    result = run(engine, xlsx([row(id_number=370902197503141230)]))
    assert result.refused[0].field == "身份证号码" and "文本格式" in result.refused[0].reason


def test_a_village_user_imports_only_into_its_own_village(demo, engine):
    result = run(engine, xlsx([row("dongguan"), row("yingxi")]), actor_name="dongguan")
    assert result.imported == 1
    assert [(e.row, e.field) for e in result.refused] == [(3, "村(社区)")]


def test_export_edit_import_round_trip_updates_what_was_edited(demo, engine):
    with db.new_session(engine) as s:
        dongguan = village(s, "dongguan")
        actor = user(s, "dongguan")
        s.expunge(actor)
    with db.new_session(engine, scope=Scope.of(actor)) as s:
        name, data = spreadsheet.export_village(s, actor, dongguan.id)
    rows = read_xlsx(data)
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 7 and all(isinstance(r[2], str) and len(r[2]) == 18 for r in rows[1:])
    # Re-importing the untouched export changes nothing.
    unchanged = run(engine, xlsx(rows[1:]), actor_name="dongguan")
    assert (unchanged.imported, unchanged.updated, unchanged.refused_count) == (0, 0, 0)
    # Edit: a new address for the first, new quantities for a still-registered one, and a new household.
    registered = next(i for i, r in enumerate(rows) if i and r[6] is not None and i >= 5)
    rows[1][4] = "东关村8组8号"
    rows[registered][6], rows[registered][7] = 0.5, 0
    rows.append(row())
    result = run(engine, xlsx(rows[1:]), actor_name="dongguan")
    assert (result.imported, result.updated, result.refused_count) == (1, 2, 0)
    with db.new_session(engine) as s:
        assert s.execute(select(Household.address)
                         .where(Household.id_number_hmac == vault.blind("id_number", rows[1][2]))).scalar_one() \
            == "东关村8组8号"
        coal = s.execute(select(Registration.coal_kg).join(Household, Household.id == Registration.household_id)
                         .where(Household.id_number_hmac == vault.blind("id_number", rows[registered][2]))).scalar_one()
        assert coal == 500


def test_quantities_of_an_approved_registration_cannot_be_changed_by_import(demo, engine):
    with db.new_session(engine) as s:
        actor = user(s, "dongguan")
        s.expunge(actor)
    with db.new_session(engine, scope=Scope.of(actor)) as s:
        rows = read_xlsx(spreadsheet.export_village(s, actor, actor.village_id)[1])
    rows[1][6] = 0.1  # the demo's first households are approved
    result = run(engine, xlsx(rows[1:]), actor_name="dongguan")
    assert [(e.row, e.field) for e in result.refused] == [(2, "洁净煤(吨)")]
    assert "已公示或已审核" in result.refused[0].reason


def test_the_command_line_prints_refused_rows_and_the_totals_and_exits_0(demo, engine, tmp_path, capsys):
    path = tmp_path / "form.xlsx"
    path.write_bytes(xlsx([row(), row(phone="123")]))
    assert cli.import_households(str(path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("row 3: 联系电话: ")
    assert out[-1] == "imported=1 updated=0 refused=1"
    assert cli.import_households(str(path), dry_run=True) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "imported=0 updated=0 refused=1"


def test_the_command_line_exits_2_on_a_wrong_header_or_a_missing_file(demo, engine, tmp_path, capsys):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx([row()], header=["a", "b"]))
    assert cli.import_households(str(path)) == 2
    assert cli.import_households(str(tmp_path / "missing.xlsx")) == 2
    assert "表头与模板不符" in capsys.readouterr().err


def test_an_import_writes_the_address_key_of_new_households_and_of_changed_addresses(demo, engine):
    """The key the shared_address anomaly rule groups by (subsidy/rules/addresses.py) follows the address through
    the import's Core INSERT and its Core UPDATE alike."""
    number = new_id_number()
    run(engine, xlsx([row(id_number=number, address="东关村 三组 ５号")]))
    with db.new_session(engine) as s:
        key = s.execute(select(Household.address_key).where(
            Household.id_number_hmac == vault.blind("id_number", number))).scalar_one()
    assert key == "东关村3组5号"
    result = run(engine, xlsx([row(id_number=number, address="东关村第四组8號")]))
    assert result.updated == 1
    with db.new_session(engine) as s:
        key = s.execute(select(Household.address_key).where(
            Household.id_number_hmac == vault.blind("id_number", number))).scalar_one()
    assert key == "东关村4组8号"


def test_an_imported_household_is_found_by_the_last_six_of_its_id_number(demo, engine):
    """The import's Core INSERT leaves id_number_tail6_hmac out: its column default computes it from the ID number."""
    number = new_id_number()
    run(engine, xlsx([row(id_number=number)]))
    with db.new_session(engine) as s:
        stored = s.execute(select(Household.id_number_tail6_hmac).where(
            Household.id_number_hmac == vault.blind("id_number", number))).scalar_one()
        found = [h.id_number for h in households.list_households(s, q=number[-6:]).items]
    assert stored == vault.tail6_blind("id_number", number) and number in found
