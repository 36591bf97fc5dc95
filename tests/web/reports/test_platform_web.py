"""The platform data set and the bank payments over HTTP: the API's CSV with its high-water mark, the bureau's
page, the bank file download, the result import with its preview, the reissue and the reconciliation page."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from subsidy.core import clock, db
from tests.services.settlement.test_payments import result_file
from tests.services.settlement.test_settlement import build, sell, settle, through_the_chain


def rows_of(response) -> list[dict]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def test_the_bureau_gets_each_file_with_the_mark_of_the_next_call(api_as):
    drc = api_as("drc")
    first = drc.get("/api/v1/exports/households.csv")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
    mark = first.headers["x-high-water-mark"]
    assert mark.startswith("hw1-") and len(rows_of(first)) > 10
    again = drc.get("/api/v1/exports/households.csv", params={"since": mark})
    assert again.status_code == 200 and rows_of(again) == []
    assert drc.get("/api/v1/exports/slips.xlsx").status_code == 200


def test_a_bad_since_is_422_with_the_field_and_an_unknown_file_404(api_as):
    drc = api_as("drc")
    bad = drc.get("/api/v1/exports/slips.csv", params={"since": "2026-12-01"})
    assert bad.status_code == 422 and "since" in bad.json()["errors"]
    assert drc.get("/api/v1/exports/users.csv").status_code == 404


@pytest.mark.parametrize("username", ["finance", "auditor", "caiyuan", "coal-a"])
def test_only_the_bureau_may_export_the_data_set(api_as, username):
    assert api_as(username).get("/api/v1/exports/households.csv").status_code == 403


def test_the_exports_page_offers_each_file_and_the_set(client_as):
    page = client_as("drc").get("/exports/")
    assert page.status_code == 200
    for name in ("households", "registrations", "slips", "slip_lines", "batches", "settlements"):
        assert f'href="/exports/{name}.csv"' in page.text
    assert "/exports/platform.zip" in page.text
    download = client_as("drc").get("/exports/batches.csv")
    assert download.status_code == 200 and len(rows_of(download)) == 2
    zipped = client_as("drc").get("/exports/platform.zip")
    assert zipped.status_code == 200 and zipped.headers["x-high-water-mark"].startswith("hw1-")
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert "manifest.json" in names and "households.xlsx" in names
    assert client_as("finance").get("/exports/").status_code == 403


@pytest.fixture
def settled(engine, demo):
    with db.new_session(engine) as s:
        slips = sell(s, villages=("dongguan",))
        supplier_id = slips[0].supplier_id
    built = build(engine)
    with db.new_session(engine) as s:
        through_the_chain(engine, s, built)
    statement, _ = settle(engine, supplier_id)
    return statement


def test_finance_sends_a_file_imports_a_failure_after_its_preview_and_reissues(client_as, settled):
    finance = client_as("finance")
    page = finance.get("/payments/")
    assert page.status_code == 200 and settled.number in page.text
    made = finance.submit("/payments/files", follow_redirects=False)
    assert made.status_code == 303
    page = finance.get("/payments/")
    file_link = page.text.split('href="/payments/files/')[1].split('"')[0]
    sheet = finance.get(f"/payments/files/{file_link}")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content))["批量转账"].iter_rows(values_only=True))
    values = dict(zip(rows[0], rows[1]))
    values.update({"处理结果": "失败", "失败原因": "账号不存在", "交易日期": clock.today().isoformat()})
    upload = finance.submit("/payments/results", files={"file": ("result.xlsx", result_file([values]))},
                            follow_redirects=False)
    assert upload.status_code == 303
    preview = finance.get(upload.headers["location"])
    assert "银行结果预览" in preview.text and 'id="failed">1<' in preview.text
    assert "payment_failed" not in finance.get(f"/api/v1/settlements/{settled.id}").text  # nothing recorded yet
    finance.submit(upload.headers["location"] + "/confirm")
    page = finance.get("/payments/")
    assert "账号不存在" in page.text and f"/payments/reissue/{settled.id}" in page.text
    assert finance.submit(f"/payments/reissue/{settled.id}", follow_redirects=False).status_code == 303
    assert finance.submit(f"/payments/reissue/{settled.id}").status_code == 409
    assert settled.number in finance.get("/payments/").text  # waiting for the next file


def test_a_result_that_is_not_one_shows_the_reason_on_the_page(client_as, settled):
    finance = client_as("finance")
    refused = finance.submit("/payments/results", files={"file": ("x.xlsx", b"not a workbook")})
    assert refused.status_code == 422 and "无法读取该文件" in refused.text


def test_the_reconciliation_page_shows_the_month_to_the_fen(client_as, settled):
    from subsidy.rules.money import yuan

    for username in ("finance", "drc", "auditor"):
        page = client_as(username).get("/reconciliation/", params={"month": settled.month})
        assert page.status_code == 200 and settled.number in page.text and "账实相符" in page.text
        assert yuan(settled.subsidy_fen) in page.text
    assert client_as("coal-a").get("/reconciliation/").status_code == 403
    assert client_as("finance").get("/reconciliation/", params={"month": "2026-13"}).status_code == 422
