"""Callback samples (回访抽查) over HTTP: the API as CONTRACT.md gives it, and the pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Slip
from tests.web.settlement.test_settlement_api import month, sell


@pytest.fixture
def submitted(engine, api_as):
    """coal-a's caiyuan summary of the month, two slips of 400 kg per registration, submitted: its id."""
    sell(engine, villages=("dongguan", "xiguan"), kg=400)
    sell(engine, villages=("dongguan", "xiguan"), kg=400)
    coal_a = api_as("coal-a")
    (draft,) = coal_a.post("/api/v1/summaries", json={"month": month()}).json()
    assert api_as("drc").post(f"/api/v1/summaries/{draft['id']}/allow-early").status_code == 200
    assert coal_a.post(f"/api/v1/summaries/{draft['id']}/submit").status_code == 200
    return draft["id"]


def slip(engine, number) -> Slip:
    with db.new_session(engine) as s:
        found = s.execute(select(Slip).where(Slip.number == number)).scalar_one()
        s.expunge(found)
        return found


def test_the_bureau_draws_records_and_approves_through_the_api(engine, api_as, submitted):
    drc = api_as("drc")
    assert drc.get(f"/api/v1/summaries/{submitted}").json()["sample"] is None
    drawn = drc.post(f"/api/v1/summaries/{submitted}/sample", json={"size": 2})
    assert drawn.status_code == 201, drawn.text
    body = drawn.json()
    assert set(body) >= {"sample_id", "seed", "slips"} and len(body["slips"]) == 2
    assert drc.post(f"/api/v1/summaries/{submitted}/sample", json={"percent": 10}).status_code == 409
    assert api_as("caiyuan").post(f"/api/v1/summaries/{submitted}/approve").status_code == 200
    refused = drc.post(f"/api/v1/summaries/{submitted}/approve")
    assert refused.status_code == 409 and "回访" in refused.json()["detail"]

    short, fine = (slip(engine, n) for n in body["slips"])
    found = drc.post("/api/v1/callbacks", json={
        "slip_number": short.number, "reached": True, "attempts": 1, "received_kg": 0, "received_stoves": 0,
        "paid_fen": 0, "note": "住户称未购买"})
    assert found.status_code == 201, found.text
    assert found.json()["discrepancy"] is True and found.json()["case_id"]
    ok = drc.post("/api/v1/callbacks", json={
        "slip_number": fine.number, "reached": True, "attempts": 2, "received_kg": fine.coal_kg,
        "received_stoves": fine.stoves, "paid_fen": fine.amount_fen - fine.subsidy_fen, "note": ""})
    assert ok.status_code == 201 and ok.json()["discrepancy"] is False and ok.json()["case_id"] is None
    shown = drc.get(f"/api/v1/summaries/{submitted}").json()
    assert shown["sample"] == {"size": 2, "done": 2, "discrepancies": 1}
    approved = drc.post(f"/api/v1/summaries/{submitted}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["slip_count"] == shown["slip_count"]  # the set-aside slip was already out


def test_callback_refusals_over_the_api(engine, api_as, submitted):
    drc = api_as("drc")
    number = drc.post(f"/api/v1/summaries/{submitted}/sample", json={"percent": 1}).json()["slips"][0]
    assert drc.post("/api/v1/callbacks", json={"slip_number": "NONE-1", "reached": False, "attempts": 1}
                    ).status_code == 404
    bad = drc.post("/api/v1/callbacks", json={"slip_number": number, "reached": True, "attempts": 1,
                                               "received_kg": -5, "received_stoves": 0, "paid_fen": 0})
    assert bad.status_code == 422 and "received_kg" in bad.json()["errors"]
    typed = drc.post("/api/v1/callbacks", json={"slip_number": number, "reached": "yes", "attempts": 1})
    assert typed.status_code == 422 and "reached" in typed.json()["errors"]
    assert api_as("daimiao").post("/api/v1/callbacks", json={
        "slip_number": number, "reached": False, "attempts": 1}).status_code == 404
    assert api_as("finance").post("/api/v1/callbacks", json={
        "slip_number": number, "reached": False, "attempts": 1}).status_code == 403
    assert api_as("daimiao").post(f"/api/v1/summaries/{submitted}/sample", json={"size": 1}).status_code == 404
    assert drc.post(f"/api/v1/summaries/{submitted}/sample", json={"size": 1}).status_code == 409  # drawn already


def test_a_draw_needs_a_size_or_a_percentage(engine, api_as, submitted):
    drc = api_as("drc")
    for body in ({}, {"size": 0}, {"percent": 0}, {"size": 1, "percent": 1}):
        answer = drc.post(f"/api/v1/summaries/{submitted}/sample", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"]


def test_the_pages_draw_calculate_and_record(engine, client_as, submitted):
    drc = client_as("drc")
    page = drc.get(f"/summaries/{submitted}/sample?confidence=95&margin=5")
    assert page.status_code == 200 and "建议抽取" in page.text
    slips = int(re.search(r"有效销售单 (\d+) 张", page.text).group(1))
    assert 4 <= slips < 20  # a population this small needs every slip at 95 % and ±5 %
    assert re.search(r"建议抽取 <strong>(\d+)</strong>", page.text).group(1) == str(slips)
    bad = drc.get(f"/summaries/{submitted}/sample?confidence=97&margin=5")
    assert "置信水平应为" in bad.text
    shown = drc.submit(f"/summaries/{submitted}/sample", data={"by": "size", "size": "2"})
    assert shown.status_code == 200 and "已随机抽取2张销售单" in shown.text
    numbers = re.findall(r'data-slip="([^"]+)"', shown.text)
    assert len(numbers) == 2 and "待回访" in shown.text
    assert "共 2 条，第 1/1 页" in shown.text  # the common pager, by the sample's size
    refused = drc.submit(f"/summaries/{submitted}/callbacks", data={
        "slip_number": numbers[0], "reached": "1", "attempts": "1", "received_kg": "", "received_stoves": "0",
        "paid": "0"})
    assert refused.status_code == 422 and "请填写住户实收洁净煤" in refused.text
    first = slip(engine, numbers[0])
    done = drc.submit(f"/summaries/{submitted}/callbacks", data={
        "slip_number": numbers[0], "reached": "1", "attempts": "1", "received_kg": str(first.coal_kg),
        "received_stoves": "0", "paid": f"{(first.amount_fen - first.subsidy_fen) / 100:.2f}", "note": "属实"})
    assert done.status_code == 200 and f"已记录销售单{numbers[0]}的回访" in done.text
    unreached = drc.submit(f"/summaries/{submitted}/callbacks", data={
        "slip_number": numbers[1], "reached": "0", "attempts": "1"})
    assert unreached.status_code == 200 and "第1次拨打，未联系到" in unreached.text
    summary_page = drc.get(f"/summaries/{submitted}")
    assert "已回访 1 户" in summary_page.text and "尚有 1 户待回访" in summary_page.text
    report = drc.get(f"/reports/monthly?month={month()}")
    assert "本月回访抽查 2 户，已回访 1 户，其中联系到 1 户，发现问题 0 户" in report.text
    assert client_as("finance").get(f"/summaries/{submitted}/sample").status_code == 200
    assert client_as("finance").submit(f"/summaries/{submitted}/sample", data={"size": "1"}).status_code == 403


def test_the_monthly_report_shows_the_callbacks_per_supplier_and_town_on_the_page_and_in_the_spreadsheet(
        engine, api_as, client_as, submitted):
    import io

    from openpyxl import load_workbook

    drc = api_as("drc")
    numbers = drc.post(f"/api/v1/summaries/{submitted}/sample", json={"size": 2}).json()["slips"]
    denied = drc.post("/api/v1/callbacks", json={
        "slip_number": numbers[0], "reached": True, "attempts": 1, "received_kg": 0, "received_stoves": 0,
        "paid_fen": 0, "note": ""})
    assert denied.status_code == 201 and denied.json()["discrepancy"] is True
    page = client_as("drc").get(f"/reports/monthly?month={month()}")
    assert page.status_code == 200
    table = page.text.split("data-callbacks-by", 1)[1].split("</table>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert cells == ["泰安市甲洁净煤配送有限公司", "财源街道", "2", "1", "1", "1", "50.0%"]
    sheet = client_as("drc").get(f"/reports/monthly.xlsx?month={month()}")
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[:3] == ("配送企业", "街道/镇", "回访抽取(户)"))
    assert rows[header + 1][:7] == ("泰安市甲洁净煤配送有限公司", "财源街道", 2, 1, 1, 1, 0.5)
    # Another town's monthly report has no row of this town.
    other = client_as("daimiao").get(f"/reports/monthly?month={month()}")
    assert other.status_code == 200 and "本月尚未抽取回访样本" in other.text
