"""The import pages (issue #13 items 2, 10; #14 item 6): a file is read with no write lock held, a refused file is
not kept, a preview can be left and returned to, lists every problem of a row and the rows it will add or update,
is confirmed or cancelled; and the request edge keeps upload bodies bounded and replays them from a spool."""

from __future__ import annotations

import re
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from subsidy.core import db
from subsidy.core.settings import get_settings
from subsidy.models import ImportUpload
from subsidy.registry import households, spreadsheet
from tests.factories.registry import household_input, row, village, xlsx


def upload(client, data: bytes, **kwargs):
    return client.submit("/households/import", files={"file": ("form.xlsx", data, "application/octet-stream")},
                         **kwargs)


def uploads_stored(engine) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(ImportUpload)).scalar_one()


@pytest.mark.xdist_group("serial")  # a load that times itself: off the other heavy loads (docs/tests.md)
def test_a_write_elsewhere_in_the_district_answers_at_once_while_an_upload_is_being_read(client_as, engine,
                                                                                        monkeypatch):
    clerk = client_as("dongguan")
    reading, release = threading.Event(), threading.Event()
    real = spreadsheet._parse_row

    def slow(*args, **kwargs):
        reading.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(spreadsheet, "_parse_row", slow)
    with db.new_session(engine) as s:
        yingxi = village(s, "yingxi").id
    answers, took = [], []
    uploading = threading.Thread(target=lambda: answers.append(upload(clerk, xlsx([row()]))))
    uploading.start()
    try:
        assert reading.wait(10)

        def write():
            started = time.monotonic()
            with db.transaction(engine) as s:
                households.register_household(s, None, yingxi, household_input())
            took.append(time.monotonic() - started)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(3)
        assert took and took[0] < 1, "the write waited for the upload being read"
    finally:
        release.set()
        uploading.join(20)
    assert answers and answers[0].status_code == 200 and "导入预览" in answers[0].text


def test_a_file_that_cannot_be_read_or_runs_out_of_time_is_refused_and_not_kept(client_as, engine, monkeypatch):
    clerk = client_as("dongguan")
    response = upload(clerk, b"not a spreadsheet")
    assert response.status_code == 422 and "无法读取该文件" in response.text
    monkeypatch.setenv("SUBSIDY_IMPORT_PARSE_SECONDS", "0")
    get_settings.cache_clear()
    response = upload(clerk, xlsx([row()]))
    assert response.status_code == 422 and "仍未完成，已停止" in response.text
    assert uploads_stored(engine) == 0


def test_a_preview_lists_both_problems_of_a_row_and_the_rows_it_will_add(client_as):
    clerk = client_as("dongguan")
    response = upload(clerk, xlsx([row(name="孙海燕"), row(name="王", phone="12")]))
    assert response.status_code == 200
    refused = re.search(r'<table class="list" id="refused-rows">.*?</table>', response.text, re.S).group(0)
    assert re.findall(r'<td class="num">3</td><td>([^<]+)</td>', refused) == ["户主姓名", "联系电话"]
    assert '<strong id="refused">1</strong>' in response.text
    added = re.search(r'<table class="list" id="added-rows">.*?</table>', response.text, re.S).group(0)
    assert "孙海燕" in added and "********" in added


def test_a_preview_can_be_left_returned_to_and_confirmed_once(client_as, engine):
    clerk = client_as("dongguan")
    first = upload(clerk, xlsx([row(name="孙海燕")]), follow_redirects=False)
    assert first.status_code == 303
    preview_url = first.headers["location"]
    listing = clerk.get("/households/import")
    assert f'href="{preview_url}"' in listing.text and "待确认" in listing.text
    again = clerk.get(preview_url)
    assert '<strong id="imported">1</strong>' in again.text
    confirm = re.search(r'action="(/households/import/\d+/confirm)"', again.text).group(1)
    done = clerk.submit(confirm)
    assert done.status_code == 200 and "导入结果" in done.text and "孙海燕" in done.text
    assert clerk.submit(confirm).status_code == 409
    assert f'href="{preview_url}"' not in clerk.get("/households/import").text
    assert client_as("yingxi").get(preview_url).status_code == 404  # another clerk's upload does not exist


def test_a_cancelled_upload_is_deleted(client_as, engine):
    clerk = client_as("dongguan")
    page = upload(clerk, xlsx([row()]))
    cancel = re.search(r'action="(/households/import/\d+/cancel)"', page.text).group(1)
    response = clerk.submit(cancel)
    assert response.status_code == 200 and "上传的文件已删除" in response.text
    assert uploads_stored(engine) == 0


def test_the_template_page_gives_the_drop_downs_of_the_clerks_village(client_as):
    from io import BytesIO

    from openpyxl import load_workbook

    response = client_as("dongguan").get("/households/template.xlsx")
    workbook = load_workbook(BytesIO(response.content))
    assert len(workbook.worksheets[0].data_validations.dataValidation) == 2
    assert workbook["选项"]["A1"].value == "东关村" and workbook["选项"]["A2"].value is None


def test_a_body_declared_past_the_limit_is_answered_413_before_it_is_read(client_as, api_as, monkeypatch):
    clerk, system = client_as("dongguan"), api_as("dongguan")
    monkeypatch.setenv("SUBSIDY_UPLOAD_MAX_BYTES", "10000")
    get_settings.cache_clear()
    response = upload(clerk, b"x" * 20_000)
    assert response.status_code == 413 and "上传的文件过大（不能超过" in response.text
    api = system.post("/api/v1/households", content=b"x" * 20_000, headers={"content-type": "application/json"})
    assert api.status_code == 413 and "上传的文件过大" in api.json()["errors"]["file"]


def test_a_large_upload_found_the_database_locked_is_replayed_whole_from_the_spool(client_as, engine, monkeypatch):
    real, calls = spreadsheet.store_preview, []

    def locked_the_first_time(session, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT INTO import_upload", {}, sqlite3.OperationalError("database is locked"))
        return real(session, *args, **kwargs)

    monkeypatch.setattr(spreadsheet, "store_preview", locked_the_first_time)
    clerk = client_as("dongguan")
    data = xlsx([row(name="孙海燕")])
    response = clerk.submit("/households/import", {"pad": "x" * 1_500_000},  # past the spool's memory: on disk
                            files={"file": ("form.xlsx", data, "application/octet-stream")})
    assert response.status_code == 200 and '<strong id="imported">1</strong>' in response.text
    assert len(calls) == 2 and uploads_stored(engine) == 1
