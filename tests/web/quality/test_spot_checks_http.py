"""Quality over HTTP (CONTRACT.md, "Quality"): the whole report on POST /batches, POST /batches/{id}/inspections,
the counter's refusal of a frozen batch, the pages per role, and the forms' reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Batch, Case, SpotCheck, Supplier
from tests.factories import sales as f

REPORT = dict(product="briquette", quantity_kg=20000, source="山西晋城", report_no="JC-Q-1",
              lab="泰安市产品质量检验所", volatile_pct=9.8, sulfur_pct="0.35", ash_pct=18, calorific_mj_kg=24.5)
CHECK = dict(sampled_on=clock.today().isoformat(), lab="山东省煤炭质量检测中心", report_no="CJ-Q-1",
             volatile_pct="9.9", sulfur_pct="0.81", ash_pct="18.2", calorific_mj_kg="24.1", place="东关配送点")


def _new_batch(api_as, **over) -> dict:
    answer = api_as("coal-a").post("/api/v1/batches", json={**REPORT, **over})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_batch_takes_the_whole_report_and_answers_a_value_not_reported_as_null(api_as):
    body = _new_batch(api_as, moisture_pct="8.5", mercury_ug_g=0.123, arsenic_ug_g=12, phosphorus_pct="0.015",
                      chlorine_pct=0.05, fluorine_ug_g=90, strength_n=650)
    assert body["passed"] is True and body["frozen"] is False
    assert (body["moisture_pct"], body["mercury_ug_g"], body["arsenic_ug_g"], body["phosphorus_pct"],
            body["chlorine_pct"], body["fluorine_ug_g"], body["strength_n"]) == (8.5, 0.123, 12, 0.015, 0.05, 90, 650)
    assert body["drop_pct"] is None
    bare = _new_batch(api_as, report_no="JC-Q-2")
    assert bare["mercury_ug_g"] is None and bare["moisture_pct"] is None  # absent: not reported, never 0


@pytest.mark.parametrize(("field", "value"), [
    ("moisture_pct", -1), ("mercury_ug_g", 1200), ("calorific_mj_kg", 41), ("ash_pct", "100.5"),
    ("phosphorus_pct", "0.0155"), ("arsenic_ug_g", 2.5), ("chlorine_pct", True),
])
def test_a_value_out_of_range_or_too_precise_is_422_naming_the_field(api_as, field, value):
    answer = api_as("coal-a").post("/api/v1/batches", json={**REPORT, field: value})
    assert answer.status_code == 422 and field in answer.json()["errors"], answer.text


def test_a_failed_spot_check_is_201_opens_a_case_and_the_next_sale_from_the_batch_is_refused(api_as, engine):
    batch = _new_batch(api_as)
    with db.transaction(engine) as s:
        h, r = f.household(s, "dongguan", coal_kg=3000)
        buyer = {"registration_id": r.id, "id_number": h.id_number}
    sale = {**buyer, "lines": [{"product": "briquette", "quantity": 100, "batch_id": batch["id"]}]}
    coal_a = api_as("coal-a")
    assert coal_a.post("/api/v1/slips", json=sale).status_code == 201
    answer = api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json=CHECK)
    assert answer.status_code == 201, answer.text
    check = answer.json()
    assert check["passed"] is False and check["failed_reasons"] == ["全硫 St,d 0.81% 超过上限 0.50%"]
    assert check["sulfur_pct"] == 0.81 and check["mercury_ug_g"] is None and check["case_id"]
    refused = coal_a.post("/api/v1/slips", json=sale)
    assert refused.status_code == 422 and "政府抽检不合格" in str(refused.json()["errors"]), refused.text
    assert api_as("coal-a").get(f"/api/v1/batches/{batch['id']}").json()["frozen"] is True
    listed = api_as("drc").get(f"/api/v1/batches/{batch['id']}/inspections").json()
    assert [c["report_no"] for c in listed] == ["CJ-Q-1"]
    with db.new_session(engine) as s:
        assert s.get(Case, check["case_id"]).channel == "inspection"
    again = api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json=CHECK)
    assert again.status_code == 409


@pytest.mark.parametrize(("change", "field"), [
    ({"sampled_on": (clock.today() + timedelta(days=1)).isoformat()}, "sampled_on"),
    ({"sampled_on": (clock.today() - timedelta(days=400)).isoformat()}, "sampled_on"),
    ({"mercury_ug_g": "1000"}, "mercury_ug_g"),
    ({"volatile_pct": "-3"}, "volatile_pct"),
    ({"calorific_mj_kg": "24.1234"}, "calorific_mj_kg"),
])
def test_a_wrong_spot_check_is_422_with_the_fields_reason_and_records_nothing(api_as, engine, change, field):
    batch = _new_batch(api_as, arrival_date=(clock.today() - timedelta(days=5)).isoformat())
    answer = api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json={**CHECK, **change})
    assert answer.status_code == 422 and field in answer.json()["errors"], answer.text
    with db.new_session(engine) as s:
        assert s.execute(select(SpotCheck).where(SpotCheck.batch_id == batch["id"])).first() is None
        assert s.get(Batch, batch["id"]).frozen_at is None


def test_only_the_bureau_records_a_spot_check_and_an_unknown_batch_is_404(api_as):
    batch = _new_batch(api_as)
    for who in ("coal-a", "caiyuan", "finance"):
        assert api_as(who).post(f"/api/v1/batches/{batch['id']}/inspections", json=CHECK).status_code == 403
    assert api_as("drc").post("/api/v1/batches/999999/inspections", json=CHECK).status_code == 404


@pytest.mark.parametrize("user", ["drc", "auditor", "finance", "caiyuan"])
def test_the_spot_checks_page_opens_for_its_roles(client_as, user):
    page = client_as(user).get("/quality")
    assert page.status_code == 200 and "抽检覆盖率" in page.text


def test_the_spot_check_list_and_the_retest_list_page_with_the_common_pager(client_as, api_as):
    failed = _new_batch(api_as, source="测试矿区翻页")
    same = _new_batch(api_as, source="测试矿区翻页", report_no="JC-Q-PAGE")
    assert api_as("drc").post(f"/api/v1/batches/{failed['id']}/inspections", json=CHECK).status_code == 201
    drc = client_as("drc")
    listed = drc.get("/quality?passed=0&per_page=20")
    assert listed.status_code == 200 and 'aria-label="翻页"' in listed.text and "CJ-Q-1" in listed.text
    assert "/quality/retests" in listed.text
    retests = drc.get("/quality/retests?per_page=20")
    assert retests.status_code == 200 and 'aria-label="翻页"' in retests.text
    assert f"/batches/{same['id']}" in retests.text and f"/quality/new?batch_id={same['id']}" in retests.text
    assert f"/batches/{failed['id']}\"" not in retests.text  # frozen: not due itself
    assert "登记复检" not in client_as("auditor").get("/quality/retests").text  # read-only for the auditor
    assert drc.get("/quality?after=garbage").status_code == 422


def test_a_supplier_and_a_village_may_not_open_the_spot_checks_page(client_as):
    for path in ("/quality", "/quality/retests"):
        assert client_as("coal-a").get(path).status_code == 403
        assert client_as("dongguan").get(path).status_code == 403


def test_the_form_refuses_a_future_date_with_the_reason_beside_it_and_a_failure_shows_the_sold_slips(
        client_as, api_as, engine):
    batch = _new_batch(api_as)
    drc = client_as("drc")
    form = drc.get(f"/quality/new?batch_id={batch['id']}")
    assert form.status_code == 200 and "Hg,d" in form.text and "Qnet,ar" in form.text
    bad = drc.submit(f"/quality/new?batch_id={batch['id']}",
                     {**CHECK, "sampled_on": (clock.today() + timedelta(days=2)).isoformat()})
    assert bad.status_code == 422 and "抽样日期不能晚于今天" in bad.text
    done = drc.submit(f"/quality/new?batch_id={batch['id']}", CHECK, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    shown = drc.get(done.headers["location"]).text
    assert "抽检不合格" in shown and "全硫 St,d 0.81% 超过上限 0.50%" in shown and "供方报告 JC-Q-1" in shown
    assert "结论相反" in shown  # the supplier's own report passed it
    batch_page = client_as("coal-a").get(f"/batches/{batch['id']}").text
    assert "data-frozen" in batch_page and "停止销售" in batch_page


def test_the_standards_page_offers_the_presets_and_the_bureau_applies_one(client_as, engine):
    drc = client_as("drc")
    page = drc.get("/suppliers/standards").text
    assert "GB 34169-2017 无烟2号" in page and "待区发改局对照标准原文核实" in page and "临夏市" in page
    season_id = page.split('name="season_id" value="')[1].split('"')[0]
    answer = drc.submit("/suppliers/standards", {"season_id": season_id, "product": "anthracite",
                                                 "preset": "linxia_wy2", "apply_preset": "1"},
                        follow_redirects=False)
    assert answer.status_code == 303
    page = drc.get("/suppliers/standards").text
    assert "已核实（种子文件 001 原文）" in page
    refused = drc.submit("/suppliers/standards", {"season_id": season_id, "product": "anthracite",
                                                  "mercury_ug_g": "abc"})
    assert refused.status_code == 422 and "汞 Hg,d" in refused.text


def _overdue_tile(client) -> str:
    home = client.get("/").text
    label = home.index("抽检不合格、逾期未复检合格的配送企业")
    tile = home[home.rindex("<a ", 0, label):label]
    return tile.split('<span class="count">')[1].split("<")[0]


def test_the_bureaus_home_page_flags_a_supplier_without_a_passed_retest_in_time(client_as, api_as, engine):
    drc = client_as("drc")
    assert _overdue_tile(drc) == "0"
    batch = _new_batch(api_as, arrival_date=(clock.today() - timedelta(days=90)).isoformat())
    old = {**CHECK, "sampled_on": (clock.today() - timedelta(days=60)).isoformat()}
    assert api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json=old).status_code == 201
    assert _overdue_tile(drc) == "1"
    with db.new_session(engine) as s:
        assert s.execute(select(Supplier).where(Supplier.code == "coal-a")).scalar_one().status == "active"


def _coverage_row(rows, name):
    return next(r for r in rows if r[0] == name)


def test_the_monthly_report_page_and_spreadsheet_carry_the_spot_check_coverage_to_the_months_end(
        client_as, api_as, engine):
    import io
    import re

    from openpyxl import load_workbook

    with db.new_session(engine) as s:
        name = s.execute(select(Supplier.name).where(Supplier.code == "coal-a")).scalar_one()
    month = clock.today().strftime("%Y-%m")

    def page_row():
        html = client_as("drc").get(f"/reports/monthly?month={month}").text
        table = html[html.index('id="monthly-coverage"'):]
        table = table[:table.index("</table>")]
        rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
                for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]
        return _coverage_row(rows, name), rows[-1]

    (before, before_total) = page_row()
    batch = _new_batch(api_as, report_no="JC-Q-MONTH")
    assert api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json=CHECK).status_code == 201
    after, total = page_row()
    # supplier, batches, checked, coverage, failed batches, failed checks, re-tested, re-test rate
    assert int(after[1]) == int(before[1]) + 1 and int(after[2]) == int(before[2]) + 1
    assert int(after[4]) == int(before[4]) + 1 and int(after[5]) == int(before[5]) + 1
    assert total[0] == "合计" and int(total[1]) == int(before_total[1]) + 1
    answer = client_as("drc").get(f"/reports/monthly.xlsx?month={month}")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    values = list(sheet.iter_rows(values_only=True))
    heading = next(i for i, r in enumerate(values) if r[0] and str(r[0]).startswith("抽检覆盖率"))
    assert values[heading + 1][:3] == ("配送企业", "进货批次", "已抽检批次")
    row = next(r for r in values[heading + 2:] if r[0] == name)
    assert (row[1], row[2], row[4], row[5]) == tuple(int(after[i]) for i in (1, 2, 4, 5))
    assert row[3] == pytest.approx(int(after[2]) / int(after[1]))


# --- depots (保供点) -----------------------------------------------------------------------------------------------

def _coal_a(engine):
    with db.new_session(engine) as s:
        return s.execute(select(Supplier.id, Supplier.name).where(Supplier.code == "coal-a")).one()


def _town_id(engine, code="caiyuan"):
    from subsidy.models import Town
    with db.new_session(engine) as s:
        return s.execute(select(Town.id).where(Town.code == code)).scalar_one()


def test_a_supplier_adds_a_depot_on_its_page_chooses_it_for_a_batch_and_the_bureau_sees_its_coverage(
        client_as, api_as, engine):
    supplier_id, name = _coal_a(engine)
    clerk = client_as("coal-a")
    page = clerk.get(f"/suppliers/{supplier_id}")
    assert page.status_code == 200 and "登记保供点" in page.text
    bad = clerk.submit(f"/suppliers/{supplier_id}/depots", {"name": "", "address": "", "town_id": ""})
    assert bad.status_code == 422 and "请选择保供点所在的街道/镇" in bad.text
    done = clerk.submit(f"/suppliers/{supplier_id}/depots",
                        {"name": "东关保供点", "address": "东关村1组1号", "town_id": str(_town_id(engine))},
                        follow_redirects=False)
    assert done.status_code == 303, done.text[:300]
    again = clerk.submit(f"/suppliers/{supplier_id}/depots",
                         {"name": "东关保供点", "address": "别处", "town_id": str(_town_id(engine))})
    assert again.status_code == 422 and "已有名为“东关保供点”的保供点" in again.text
    (listed,) = api_as("coal-a").get("/api/v1/depots").json()
    assert (listed["name"], listed["town"]) == ("东关保供点", "财源街道")
    assert api_as("drc").get(f"/api/v1/depots?supplier_id={supplier_id}").json() == [listed]
    form = clerk.get("/batches/new")
    assert 'name="depot_id"' in form.text and "东关保供点（财源街道）" in form.text
    batch = _new_batch(api_as, report_no="JC-Q-DEPOT", depot_id=listed["id"])
    assert batch["depot_id"] == listed["id"]
    wrong = api_as("coal-b").post("/api/v1/batches", json={**REPORT, "depot_id": listed["id"]})
    assert wrong.status_code == 422 and "depot_id" in wrong.json()["errors"]
    quality_page = client_as("drc").get("/quality").text
    row = quality_page[quality_page.index('id="depot-coverage"'):]
    assert "东关保供点" in row[:row.index("</table>")]


def test_another_supplier_may_not_add_a_depot_to_a_supplier_not_its_own(client_as, engine):
    supplier_id, _ = _coal_a(engine)
    answer = client_as("coal-b").submit(f"/suppliers/{supplier_id}/depots",
                                        {"name": "越权", "address": "某地", "town_id": str(_town_id(engine))})
    assert answer.status_code in (403, 404)
    assert "越权" not in client_as("drc").get(f"/suppliers/{supplier_id}").text


def test_the_slip_page_marks_a_slip_sold_from_a_batch_a_spot_check_failed(client_as, api_as, engine):
    batch = _new_batch(api_as, report_no="JC-Q-SLIP")
    with db.transaction(engine) as s:
        h, r = f.household(s, "dongguan", coal_kg=3000)
        buyer = {"registration_id": r.id, "id_number": h.id_number}
    sale = api_as("coal-a").post("/api/v1/slips", json={
        **buyer, "lines": [{"product": "briquette", "quantity": 100, "batch_id": batch["id"]}]})
    assert sale.status_code == 201, sale.text
    number = sale.json()["number"]
    assert "data-failed-batch" not in client_as("coal-a").get(f"/slips/{number}").text
    assert api_as("drc").post(f"/api/v1/batches/{batch['id']}/inspections", json=CHECK).status_code == 201
    for who in ("coal-a", "caiyuan", "drc"):
        page = client_as(who).get(f"/slips/{number}")
        assert page.status_code == 200 and f'data-failed-batch="{batch["id"]}"' in page.text, who
        assert "JC-Q-SLIP" in page.text and "请街道/镇为该户安排置换" in page.text
    assert f'href="/batches/{batch["id"]}"' not in client_as("caiyuan").get(f"/slips/{number}").text


def test_the_spot_check_form_offers_the_batchs_depot_as_the_place_of_the_sample(client_as, api_as, engine):
    supplier_id, _ = _coal_a(engine)
    assert client_as("coal-a").submit(f"/suppliers/{supplier_id}/depots", {
        "name": "岱庙保供点", "address": "岱庙街道3号", "town_id": str(_town_id(engine, "daimiao"))},
        follow_redirects=False).status_code == 303
    (depot,) = [d for d in api_as("coal-a").get("/api/v1/depots").json() if d["name"] == "岱庙保供点"]
    batch = _new_batch(api_as, report_no="JC-Q-PLACE", depot_id=depot["id"])
    form = client_as("drc").get(f"/quality/new?batch_id={batch['id']}").text
    assert 'value="岱庙保供点（岱庙街道3号）"' in form
    bare = _new_batch(api_as, report_no="JC-Q-NOPLACE")
    assert 'name="place" type="text" value=""' in client_as("drc").get(f"/quality/new?batch_id={bare['id']}").text
