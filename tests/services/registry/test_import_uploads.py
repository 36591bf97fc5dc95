"""Uploads of the registration form (issue #13 items 2, 10, 12; #14 item 6): archives that would unpack to too much
are refused before parsing, reading has a time limit and holds no write lock, a preview is stored to return to and
confirmed in batches that an interruption does not lose, uploads are purged, a wrong header is answered briefly,
every problem of a row is listed, and the blank template guides the clerk."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from subsidy import cli
from subsidy.core import clock, db
from subsidy.core.errors import Conflict
from subsidy.core.scope import Scope
from subsidy.core.settings import get_settings
from subsidy.models import Household, ImportUpload
from subsidy.registry import spreadsheet
from subsidy.registry.spreadsheet import HEADER, ImportRefused
from tests.factories.registry import row, user, xlsx


@pytest.fixture
def clerk(demo, engine):
    with db.new_session(engine) as s:
        actor = user(s, "dongguan")
        s.expunge(actor)
    return actor


def preview(engine, actor, data: bytes):
    reader = db.new_session(engine, read_only=True, scope=Scope.of(actor))
    try:
        return spreadsheet.preview_file(reader, actor, data)
    finally:
        db.end_read(reader)
        reader.close()


def store(engine, actor, data: bytes) -> int:
    result = preview(engine, actor, data)
    with db.transaction(engine, scope=Scope.of(actor)) as s:
        return spreadsheet.store_preview(s, actor, "form.xlsx", data, result).id


def confirm(engine, actor, upload_id: int):
    reader = db.new_session(engine, read_only=True, scope=Scope.of(actor))
    s = db.new_session(engine, write=True, scope=Scope.of(actor))
    try:
        upload, parsed = spreadsheet.read_upload(reader, actor, upload_id)
        result = spreadsheet.confirm_upload(s, actor, upload, parsed)
        s.commit()
        return result
    finally:
        s.rollback()
        s.close()
        db.end_read(reader)
        reader.close()


def stored(engine, upload_id: int) -> ImportUpload | None:
    with db.new_session(engine) as s:
        return s.get(ImportUpload, upload_id)


def household_count(engine) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(Household)).scalar_one()


def bomb(comment_bytes: int = 40 * 1024 * 1024) -> bytes:
    """A valid form whose sheet XML carries a huge comment: a few dozen KB compressed (issue #13's 45 KB file)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx([row()])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, _, rest = data.partition(b"?>")
                data = head + b"?><!--" + b"a" * comment_bytes + b"-->" + rest
            target.writestr(info.filename, data)
    return out.getvalue()


def set_env(monkeypatch, **values) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


# --- bombs, limits, the write lock ---------------------------------------------------------------------------------

@pytest.mark.xdist_group("serial")  # a load that times itself: off the other heavy loads (docs/tests.md)
def test_a_45_kb_bomb_is_refused_within_2_seconds_saying_why(clerk, engine):
    data = bomb()
    assert len(data) < 100 * 1024
    started = time.monotonic()
    with pytest.raises(ImportRefused) as refused:
        preview(engine, clerk, data)
    assert time.monotonic() - started < 2
    assert "压缩比异常" in refused.value.message and refused.value.errors == {"file": refused.value.message}


def test_an_archive_that_unpacks_past_the_total_limit_is_refused_before_parsing(clerk, engine, monkeypatch):
    set_env(monkeypatch, SUBSIDY_IMPORT_MAX_UNPACKED_BYTES=5_000)
    with pytest.raises(ImportRefused) as refused:
        preview(engine, clerk, xlsx([row()]))
    assert "解压后超过" in refused.value.message


def test_reading_stops_at_the_time_limit_with_a_chinese_reason(clerk, engine, monkeypatch):
    set_env(monkeypatch, SUBSIDY_IMPORT_PARSE_SECONDS=0)
    with pytest.raises(ImportRefused) as refused:
        preview(engine, clerk, xlsx([row(), row()]))
    assert "仍未完成，已停止" in refused.value.message


def test_a_preview_writes_nothing_and_the_command_line_reads_before_it_writes(clerk, engine, tmp_path, capsys):
    before = household_count(engine)
    result = preview(engine, clerk, xlsx([row(), row(name="坏")]))
    assert (result.imported, result.refused_count) == (1, 1)
    assert household_count(engine) == before
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb())
    assert cli.import_households(str(path)) == 2
    assert "压缩比异常" in capsys.readouterr().err


# --- stored previews, confirmation in batches, resuming ------------------------------------------------------------

def test_a_stored_preview_is_listed_until_confirmed_then_confirming_again_is_a_conflict(clerk, engine):
    before = household_count(engine)
    upload_id = store(engine, clerk, xlsx([row(), row(name="坏")]))
    with db.new_session(engine, scope=Scope.of(clerk)) as s:
        assert [u.id for u in spreadsheet.pending_uploads(s, clerk)] == [upload_id]
        _, again = spreadsheet.stored_preview(s, clerk, upload_id)
    assert (again.imported, again.refused_count, len(again.added)) == (1, 1, 1)
    done = confirm(engine, clerk, upload_id)
    assert (done.imported, done.refused_count) == (1, 1)
    assert household_count(engine) == before + 1
    with pytest.raises(Conflict):
        confirm(engine, clerk, upload_id)
    with db.new_session(engine, scope=Scope.of(clerk)) as s:
        assert spreadsheet.pending_uploads(s, clerk) == []


def test_an_interrupted_confirmation_keeps_its_batches_and_resumes_where_it_stopped(clerk, engine, monkeypatch):
    monkeypatch.setattr(spreadsheet, "CHUNK", 2)
    before = household_count(engine)
    upload_id = store(engine, clerk, xlsx([row() for _ in range(6)]))
    real, calls = spreadsheet._apply, []

    def fails_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the server stopped")
        return real(*args, **kwargs)

    monkeypatch.setattr(spreadsheet, "_apply", fails_on_the_third_batch)
    with pytest.raises(RuntimeError):
        confirm(engine, clerk, upload_id)
    upload = stored(engine, upload_id)
    assert (upload.rows_done, upload.rows_total, upload.used_at) == (4, 6, None)
    assert spreadsheet.import_progress(upload) == "已导入 4 / 6 行"
    assert household_count(engine) == before + 4
    done = confirm(engine, clerk, upload_id)
    assert done.imported == 6
    assert household_count(engine) == before + 6


def test_two_confirmations_of_one_upload_at_once_import_it_once(clerk, engine):
    upload_id = store(engine, clerk, xlsx([row()]))
    reader = db.new_session(engine, read_only=True, scope=Scope.of(clerk))
    first_upload, first_parsed = spreadsheet.read_upload(reader, clerk, upload_id)
    confirm(engine, clerk, upload_id)
    s = db.new_session(engine, write=True, scope=Scope.of(clerk))
    with pytest.raises(Conflict):
        spreadsheet.confirm_upload(s, clerk, first_upload, first_parsed)
    s.rollback(), s.close(), reader.close()


# --- purging --------------------------------------------------------------------------------------------------------

def test_the_stored_file_is_emptied_on_confirmation_and_deleted_on_cancellation(clerk, engine):
    confirmed = store(engine, clerk, xlsx([row()]))
    confirm(engine, clerk, confirmed)
    assert stored(engine, confirmed).data == b""
    cancelled = store(engine, clerk, xlsx([row()]))
    with db.transaction(engine, scope=Scope.of(clerk)) as s:
        spreadsheet.cancel_upload(s, clerk, cancelled)
    assert stored(engine, cancelled) is None


def test_uploads_older_than_a_day_are_purged_by_the_command_and_the_servers_loop(clerk, engine, frozen, capsys):
    from web.app import purge_uploads_once

    frozen(datetime.now(timezone.utc))
    old = store(engine, clerk, xlsx([row()]))
    clock.advance(timedelta(hours=23))
    assert cli.main(["uploads", "purge"]) == 0
    assert stored(engine, old) is not None
    clock.advance(timedelta(hours=2))
    assert cli.main(["uploads", "purge"]) == 0
    assert "purged 1 upload(s)" in capsys.readouterr().out.splitlines()[-1]
    assert stored(engine, old) is None
    fresh = store(engine, clerk, xlsx([row()]))
    clock.advance(timedelta(hours=25))
    assert purge_uploads_once() == 1
    assert stored(engine, fresh) is None


# --- what a refusal says ----------------------------------------------------------------------------------------------

def test_a_header_of_16000_cells_is_answered_briefly_with_the_missing_columns(clerk, engine):
    header = ["村(社区)", "户主姓名"] + [f"列{n}" for n in range(16_000)]
    with pytest.raises(ImportRefused) as refused:
        preview(engine, clerk, xlsx([row()], header=header))
    message = refused.value.message
    assert len(message) < 300, message
    assert "缺少“身份证号码”、“联系电话”" in message and "有16000个模板以外的列" in message
    assert "列15999" not in message


def test_every_problem_of_a_row_is_listed_and_the_row_counts_once(clerk, engine):
    result = preview(engine, clerk, xlsx([row(name="王", phone="12", coal="9")]))
    assert result.refused_count == 1
    assert [(e.row, e.field) for e in result.refused] == [(2, HEADER[1]), (2, HEADER[3]), (2, HEADER[6])]


def test_the_preview_lists_the_rows_to_be_added_and_those_to_be_updated(clerk, engine):
    first = row()
    confirm(engine, clerk, store(engine, clerk, xlsx([first])))
    edited = list(first)
    edited[4] = "东关村9组9号"
    result = preview(engine, clerk, xlsx([edited, row(name="孙海燕")]))
    assert [(c.row, c.what) for c in result.changed] == [(2, "住址")]
    assert [(c.row, c.head_name) for c in result.added] == [(3, "孙海燕")]
    assert result.added[0].id_number.count("*") == 8  # masked: the stored preview holds no whole ID number


# --- the blank template -----------------------------------------------------------------------------------------------

def test_the_blank_template_has_text_columns_drop_downs_an_example_and_an_explanation(clerk, engine):
    with db.new_session(engine, scope=Scope.of(clerk)) as s:
        data = spreadsheet.template_bytes(s)
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == list(HEADER)
    assert sheet["C3"].number_format == "@" and sheet["D3"].number_format == "@"
    assert sheet["C2"].data_type == "s" and sheet["A2"].value == spreadsheet.EXAMPLE_MARK
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation if v.type == "list"}
    assert set(lists) == {"A3:A2001", "F3:F2001"}
    options = workbook["选项"]
    assert [options.cell(n, 1).value for n in range(1, 3)] == ["东关村", None]  # the clerk's own village only
    assert [options.cell(n, 2).value for n in range(1, 5)] == ["普通", "低保", "五保", "建档立卡"]
    notes = workbook["填写说明"]
    assert [notes.cell(n, 1).value for n in range(2, 10)] == list(HEADER)


def test_the_template_filled_in_imports_and_its_example_row_is_skipped(clerk, engine):
    with db.new_session(engine, scope=Scope.of(clerk)) as s:
        data = spreadsheet.template_bytes(s)
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    for column, value in enumerate(row(village_code="东关村"), start=1):
        sheet.cell(3, column).value = value
    out = io.BytesIO()
    workbook.save(out)
    result = preview(engine, clerk, out.getvalue())
    assert (result.imported, result.refused_count) == (1, 0)
