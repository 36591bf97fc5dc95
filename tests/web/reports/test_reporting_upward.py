"""Reporting upward over HTTP: the dispatch sheet and the acceptance report as pages, prints and spreadsheets (each
sheet opened with openpyxl: numbers as number cells with formats, text as text), who may read them, and closing a
season through the API and the page."""

from __future__ import annotations

import json
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import AcceptanceSnapshot, Season
from tests.factories.settlement import approved_registrations, make_slip, supplier


def _sell(engine, kg_by_village: dict[str, int]) -> None:
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for code, kg in kg_by_village.items():
            make_slip(s, supplier=seller, registration=approved_registrations(s, code)[0], issued_on=clock.today(),
                      coal_kg=kg)


def _season_id(engine) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(Season.id).where(Season.is_active.is_(True))).scalar_one()


def _rows(content: bytes):
    ws = load_workbook(BytesIO(content)).active
    return ws, [[c for c in row] for row in ws.iter_rows()]


def _row_of(rows, first: str):
    return next(r for r in rows if r[0].value == first)


def test_the_dispatch_sheet_has_the_towns_the_total_and_who_filled_it_in_with_number_cells(engine, api_as):
    _sell(engine, {"dongguan": 1250, "yingxi": 500})
    answer = api_as("drc").get(f"/api/v1/reports/dispatch.xlsx?period=week&date={clock.today().isoformat()}")
    assert answer.status_code == 200, answer.text
    ws, rows = _rows(answer.content)
    assert "周调度表" in rows[0][0].value
    header = [c.value for c in rows[2]]
    total = _row_of(rows, "合计")
    coal = total[header.index("洁净煤(吨)本期")]
    assert coal.data_type == "n" and coal.number_format == "0.000" and float(coal.value) == 1.75
    slips = total[header.index("销售单(张)本期")]
    assert slips.value == 2 and slips.number_format == "0"
    caiyuan = _row_of(rows, "财源街道")
    assert caiyuan[0].data_type == "s" and float(caiyuan[header.index("洁净煤(吨)本期")].value) == 1.25
    assert any(r[0].value and "填报单位" in str(r[0].value) and "填报人" in str(r[0].value)
               and "联系电话" in str(r[0].value) for r in rows)


def test_a_town_gets_its_own_towns_dispatch_sheet_and_a_village_none(engine, api_as, client_as):
    _sell(engine, {"dongguan": 1000, "yingxi": 500})
    _, rows = _rows(api_as("caiyuan").get("/api/v1/reports/dispatch.xlsx?period=day").content)
    towns = [r[0].value for r in rows[3:] if r[0].value in ("财源街道", "岱庙街道", "合计")]
    assert towns == ["财源街道", "合计"]
    assert api_as("dongguan").get("/api/v1/reports/dispatch.xlsx").status_code == 403
    assert api_as("coal-a").get("/api/v1/reports/dispatch.xlsx").status_code == 403
    bad = api_as("drc").get("/api/v1/reports/dispatch.xlsx?period=year")
    assert bad.status_code == 422 and "period" in bad.json()["errors"]
    assert api_as("drc").get("/api/v1/reports/dispatch.xlsx?date=2026-13-01").status_code == 422


def test_the_dispatch_page_and_its_print_show_the_same_table(engine, client_as):
    _sell(engine, {"dongguan": 1000})
    town = client_as("caiyuan")
    page = town.get("/reports/dispatch?period=month")
    assert page.status_code == 200 and "月调度表" in page.text and "财源街道" in page.text and "岱庙街道" not in page.text
    printed = town.get("/reports/dispatch/print?period=month")
    assert printed.status_code == 200 and "填报单位" in printed.text and "data-print" in printed.text
    assert town.get("/reports/dispatch.xlsx?period=month").status_code == 200


def test_the_acceptance_report_is_a_draft_until_the_bureau_closes_the_season_through_the_api(engine, api_as):
    _sell(engine, {"dongguan": 1333})
    season_id = _season_id(engine)
    auditor = api_as("auditor")
    ws, rows = _rows(auditor.get(f"/api/v1/reports/acceptance.xlsx?season_id={season_id}").content)
    assert "草稿" in rows[0][0].value
    total = _row_of(rows, "合计")
    assert total[7].number_format == "0.000" and float(total[7].value) == 1.333
    assert total[10].number_format == "#,##0.00" and total[10].data_type == "n"
    assert any(r[0].value == "考核验收签字页" for r in rows) and ws.row_breaks.brk
    assert api_as("finance").post(f"/api/v1/seasons/{season_id}/close").status_code == 403
    drc = api_as("drc")
    closed = drc.post(f"/api/v1/seasons/{season_id}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_at"]
    assert drc.post(f"/api/v1/seasons/{season_id}/close").status_code == 409
    _, rows = _rows(auditor.get(f"/api/v1/reports/acceptance.xlsx?season_id={season_id}").content)
    assert "定稿" in rows[0][0].value
    assert api_as("caiyuan").get(f"/api/v1/reports/acceptance.xlsx?season_id={season_id}").status_code == 403
    assert auditor.get("/api/v1/reports/acceptance.xlsx?season_id=999999").status_code == 404


def test_a_closed_season_refuses_a_registration_in_the_api_with_422_and_the_reason(engine, api_as):
    season_id = _season_id(engine)
    assert api_as("drc").post(f"/api/v1/seasons/{season_id}/close").status_code == 200
    village = api_as("dongguan")
    village_id = village.get("/api/v1/villages").json()[0]["id"]
    from tests.factories.registry import new_id_number
    created = village.post("/api/v1/households", json={
        "village_id": village_id, "head_name": "王建国", "id_number": new_id_number(), "phone": "13905381234",
        "address": "东关村3组5号", "category": "ordinary"})
    assert created.status_code == 201, created.text
    refused = village.post(f"/api/v1/households/{created.json()['id']}/registrations",
                           json={"coal_kg": 1000, "stoves": 0})
    assert refused.status_code == 422  # CONTRACT.md: refused with the reason, by field
    assert "关闭" in refused.json()["detail"] and "关闭" in str(refused.json()["errors"])


def test_the_bureau_closes_the_season_from_the_acceptance_page(engine, client_as):
    season_id = _season_id(engine)
    drc = client_as("drc")
    page = drc.get("/reports/acceptance")
    assert page.status_code == 200 and "草稿" in page.text and f"/seasons/{season_id}/close" in page.text
    done = drc.submit(f"/seasons/{season_id}/close", {"confirm": "1"}, follow_redirects=True)
    assert done.status_code == 200 and "定稿" in done.text and f"/seasons/{season_id}/close" not in done.text
    printed = drc.get(f"/reports/acceptance/print?season_id={season_id}")
    assert printed.status_code == 200 and "考核验收签字页" in printed.text
    assert client_as("finance").get("/reports/acceptance").status_code == 200
    assert client_as("caiyuan").get("/reports/acceptance").status_code == 403


def test_the_delivery_columns_are_on_the_page_the_print_and_the_sheet_alike(engine, api_as, client_as):
    _sell(engine, {"dongguan": 1000})
    drc = client_as("drc")
    for path in ("/reports/dispatch?period=month", "/reports/dispatch/print?period=month"):
        text = drc.get(path).text
        assert "配送到户(张)" in text and "未配送(张)" in text and 'data-figure="undelivered"' in text, path
    _, rows = _rows(api_as("drc").get("/api/v1/reports/dispatch.xlsx?period=month").content)
    header = [c.value for c in rows[2]]
    undelivered = _row_of(rows, "合计")[header.index("未配送(张)本期")]
    assert undelivered.value == 1 and undelivered.data_type == "n"
    assert "配送到户(张)上期" in header


def test_the_acceptance_page_and_sheet_have_the_delivery_callback_and_spot_check_sections(engine, api_as, client_as):
    _sell(engine, {"dongguan": 1000})
    season_id = _season_id(engine)
    page = client_as("auditor").get(f"/reports/acceptance?season_id={season_id}").text
    for section in ("deliveries", "callbacks", "spot_checks"):
        assert f'data-section="{section}"' in page, section
    assert "尚未列入" not in page and "定稿时尚未统计" not in page
    _, rows = _rows(api_as("auditor").get(f"/api/v1/reports/acceptance.xlsx?season_id={season_id}").content)
    lines = [r[0].value for r in rows]
    assert {"七、配送到户", "八、回访抽查", "九、政府抽检"} <= set(lines)
    header = next(r for r in rows if r[0].value == "街道/镇" and r[3].value == "未配送")
    total = rows[rows.index(header) + 2]  # caiyuan's row, then the total
    assert total[0].value == "合计" and total[3].value == 1 and total[3].data_type == "n"


def test_a_season_closed_before_the_new_sections_still_opens_its_frozen_report(engine, api_as, client_as):
    season_id = _season_id(engine)
    assert api_as("drc").post(f"/api/v1/seasons/{season_id}/close").status_code == 200
    with db.transaction(engine) as s:  # the snapshot as the version before the sections froze it
        snapshot = s.get(AcceptanceSnapshot, season_id)
        old = json.loads(snapshot.figures)
        for name in ("deliveries", "callbacks", "spot_checks"):
            del old[name]
        old["left_out"] = {"callbacks": "回访抽查户数、发现问题数（回访抽查模块上线后列入）"}
        snapshot.figures = json.dumps(old, ensure_ascii=False)
    for path in (f"/reports/acceptance?season_id={season_id}", f"/reports/acceptance/print?season_id={season_id}"):
        page = client_as("auditor").get(path)
        assert page.status_code == 200, path
        assert 'data-missing="deliveries"' in page.text and "回访抽查模块上线后列入" in page.text, path
    assert client_as("auditor").get(f"/reports/acceptance.xlsx?season_id={season_id}").status_code == 200
