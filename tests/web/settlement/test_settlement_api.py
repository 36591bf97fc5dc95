"""The summaries, settlements and progress API as the suppliers' and offices' systems call it."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook

from subsidy.core import clock, db
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier
from subsidy.rules import months


def month() -> str:
    return months.month_of(clock.today())


def sell(engine, villages=("dongguan", "yingxi"), kg=1000):
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for code in villages:
            for registration in approved_registrations(s, code):
                make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                          coal_kg=kg)
        return seller.id


def test_a_month_runs_through_the_api_from_build_to_payment(engine, api_as):
    supplier_id = sell(engine)
    coal_a = api_as("coal-a")
    built = coal_a.post("/api/v1/summaries", json={"month": month()})
    assert built.status_code == 201, built.text
    drafts = built.json()
    assert {d["status"] for d in drafts} == {"draft"} and len(drafts) == 2
    town_of = {d["id"]: d["town_id"] for d in drafts}
    towns = {t["id"]: t["code"] for t in api_as("drc").get("/api/v1/towns").json()}
    for d in drafts:
        assert api_as("drc").post(f"/api/v1/summaries/{d['id']}/allow-early").status_code == 200  # before month end
        assert coal_a.post(f"/api/v1/summaries/{d['id']}/submit").json()["status"] == "submitted"
        assert api_as(towns[town_of[d["id"]]]).post(f"/api/v1/summaries/{d['id']}/approve").status_code == 200
        assert api_as("drc").post(f"/api/v1/summaries/{d['id']}/approve").json()["status"] == "drc_approved"
        assert api_as("finance").post(f"/api/v1/summaries/{d['id']}/approve").json()["status"] == "finance_approved"
    shown = api_as("drc").get(f"/api/v1/summaries/{drafts[0]['id']}").json()
    assert [e["action"] for e in shown["history"]] == ["build", "allow_early", "submit", "approve", "approve", "approve"]
    assert [(e["person"], e["unit"]) for e in shown["history"]][3:] == [
        ({"caiyuan": "李春华", "daimiao": "杨秀兰", "taiqian": "黄振国"}[towns[drafts[0]["town_id"]]],
         {"caiyuan": "财源街道", "daimiao": "岱庙街道", "taiqian": "泰前街道"}[towns[drafts[0]["town_id"]]]),
        ("孙海涛", "区发改局"), ("钱丽华", "区财政局")]
    assert shown["history"][0]["person"] == "刘志刚" and shown["history"][0]["unit"] == "泰安市甲洁净煤配送有限公司"
    finance = api_as("finance")
    first = finance.post("/api/v1/settlements", json={"supplier_id": supplier_id, "month": month()})
    assert first.status_code == 201, first.text
    again = finance.post("/api/v1/settlements", json={"supplier_id": supplier_id, "month": month()})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    body = first.json()
    assert body["subsidy_fen"] == sum(d["subsidy_fen"] for d in drafts)
    assert sum(f["subsidy_fen"] for f in body["by_fund"]) == body["subsidy_fen"]
    assert len(body["by_town"]) == 2
    payment = {"reference": "ICBC-2026-0001", "paid_on": clock.today().isoformat()}
    paid = finance.post(f"/api/v1/settlements/{body['id']}/pay", json=payment, headers={"Idempotency-Key": "pay-1"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    retried = finance.post(f"/api/v1/settlements/{body['id']}/pay", json=payment, headers={"Idempotency-Key": "pay-1"})
    assert retried.status_code == 200 and retried.json() == paid.json()
    assert retried.headers.get("idempotent-replayed") == "true"
    other_body = finance.post(f"/api/v1/settlements/{body['id']}/pay", headers={"Idempotency-Key": "pay-1"},
                              json={**payment, "reference": "ICBC-2026-0009"})
    assert other_body.status_code == 422
    twice = finance.post(f"/api/v1/settlements/{body['id']}/pay",
                         json={"reference": "ICBC-2026-0002", "paid_on": clock.today().isoformat()})
    assert twice.status_code == 409
    sheet = coal_a.get(f"/api/v1/settlements/{body['id']}.xlsx")
    assert sheet.status_code == 200
    ws = load_workbook(BytesIO(sheet.content)).active
    assert "结算单" in ws["A1"].value and ws.page_setup.orientation == "landscape"
    progress = api_as("drc").get("/api/v1/reports/progress").json()
    assert sum(t["sold_coal_kg"] for t in progress) == sum(d["coal_kg"] for d in drafts)


def test_out_of_turn_actions_are_refused(engine, api_as):
    sell(engine, villages=("yingxi",))  # daimiao
    coal_a = api_as("coal-a")
    (draft,) = coal_a.post("/api/v1/summaries", json={"month": month()}).json()
    allow_early(engine, draft["id"])
    coal_a.post(f"/api/v1/summaries/{draft['id']}/submit")
    assert api_as("caiyuan").post(f"/api/v1/summaries/{draft['id']}/approve").status_code == 404
    assert api_as("finance").post(f"/api/v1/summaries/{draft['id']}/approve").status_code == 403
    assert coal_a.post(f"/api/v1/summaries/{draft['id']}/approve").status_code == 403
    assert api_as("coal-b").get(f"/api/v1/summaries/{draft['id']}").status_code == 404
    assert api_as("daimiao").post(f"/api/v1/summaries/{draft['id']}/return", json={"reason": ""}).status_code == 422
    returned = api_as("daimiao").post(f"/api/v1/summaries/{draft['id']}/return", json={"reason": "单据不全"})
    assert returned.json()["status"] == "returned"
    assert api_as("coal-a").get("/api/v1/reports/progress").status_code == 403


def test_the_summary_spreadsheet_is_the_official_form(engine, api_as):
    sell(engine, villages=("dongguan",))
    coal_a = api_as("coal-a")
    (draft,) = coal_a.post("/api/v1/summaries", json={"month": month()}).json()
    response = api_as("caiyuan").get(f"/api/v1/summaries/{draft['id']}.xlsx")
    assert response.status_code == 200
    ws = load_workbook(BytesIO(response.content)).active
    assert "销售汇总表" in ws["A1"].value
    texts = [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("盖章" in t for t in texts) and "合计" in texts
    assert ws.print_area and ws.page_setup.fitToWidth == 1
    # ID numbers as the reader sees them everywhere (subsidy/core/scope.py): whole for the town, masked for the bureau.
    assert any(t.isdigit() and len(t) == 18 for t in texts)
    bureau = load_workbook(BytesIO(api_as("drc").get(f"/api/v1/summaries/{draft['id']}.xlsx").content)).active
    assert not any(isinstance(c, str) and c.isdigit() and len(c) == 18
                   for row in bureau.iter_rows(values_only=True) for c in row)


def test_a_late_summary_gets_a_supplementary_statement_through_the_api(engine, api_as):
    supplier_id = sell(engine, villages=("dongguan",))
    coal_a, finance = api_as("coal-a"), api_as("finance")

    def approved(summary, town):
        allow_early(engine, summary["id"])
        coal_a.post(f"/api/v1/summaries/{summary['id']}/submit")
        for office in (town, "drc", "finance"):
            assert api_as(office).post(f"/api/v1/summaries/{summary['id']}/approve").status_code == 200

    (early,) = coal_a.post("/api/v1/summaries", json={"month": month()}).json()
    approved(early, "caiyuan")
    first = finance.post("/api/v1/settlements", json={"supplier_id": supplier_id, "month": month()}).json()
    assert first["seq"] == 1
    sell(engine, villages=("yingxi",))
    (late,) = [d for d in coal_a.post("/api/v1/summaries", json={"month": month()}).json() if d["id"] != early["id"]]
    approved(late, "daimiao")
    supplement = finance.post("/api/v1/settlements", json={"supplier_id": supplier_id, "month": month()})
    assert supplement.status_code == 201
    assert supplement.json()["seq"] == 2 and supplement.json()["number"] == first["number"] + "-2"
    assert supplement.json()["subsidy_fen"] == late["subsidy_fen"]
    again = finance.post("/api/v1/settlements", json={"supplier_id": supplier_id, "month": month()})
    assert again.status_code == 200 and again.json()["id"] == supplement.json()["id"]
    assert finance.get(f"/api/v1/settlements/{first['id']}").json()["subsidy_fen"] == early["subsidy_fen"]


def test_an_approval_that_carries_stale_figures_is_a_409_with_the_current_ones(engine, api_as):
    sell(engine, villages=("dongguan",))
    coal_a = api_as("coal-a")
    (draft,) = coal_a.post("/api/v1/summaries", json={"month": month()}).json()
    allow_early(engine, draft["id"])
    coal_a.post(f"/api/v1/summaries/{draft['id']}/submit")
    town = api_as("caiyuan")
    seen = {k: town.get(f"/api/v1/summaries/{draft['id']}").json()[k]
            for k in ("slip_count", "coal_kg", "stoves", "amount_fen", "subsidy_fen")}
    stale = {**seen, "subsidy_fen": seen["subsidy_fen"] + 1}
    refused = town.post(f"/api/v1/summaries/{draft['id']}/approve", json={"seen": stale})
    assert refused.status_code == 409 and refused.json()["current"] == seen
    assert town.post(f"/api/v1/summaries/{draft['id']}/approve",
                     json={"seen": {**seen, "coal_kg": -1}}).status_code == 422
    approved = town.post(f"/api/v1/summaries/{draft['id']}/approve", json={"comment": "同意", "seen": seen})
    assert approved.status_code == 200 and approved.json()["status"] == "town_approved"
