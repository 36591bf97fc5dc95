"""Depots (保供点) kept over HTTP: edited and deactivated on the supplier's page and in the API (POST /depots,
PUT /depots/{id}, POST /depots/{id}/deactivate and /reactivate), a deactivated one not offered for new batches nor as
a spot check's place; and a batch's report date (报告日期) in POST /batches, on the batch's page and the public page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from subsidy.core import clock
from tests.clients import PageClient
from tests.web.quality import test_spot_checks_http as quality_http

REPORT = quality_http.REPORT


def _depot(api_as, who="coal-a", **over) -> dict:
    body = {"name": "东关保供点", "address": "东关村1组1号", "town_id": None, **over}
    answer = api_as(who).post("/api/v1/depots", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def caiyuan_id(engine):
    return quality_http._town_id(engine)


# --- report date -------------------------------------------------------------------------------------------------

def test_a_batch_takes_its_report_date_and_shows_it_on_its_page_and_the_public_page(api_as, client_as, app):
    arrived = clock.today() - timedelta(days=3)
    reported = arrived + timedelta(days=1)
    answer = api_as("coal-a").post("/api/v1/batches", json={
        **REPORT, "report_no": "JC-RD-HTTP", "arrival_date": arrived.isoformat(), "report_date": reported.isoformat()})
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch["report_date"] == reported.isoformat()
    assert api_as("coal-a").get(f"/api/v1/batches/{batch['id']}").json()["report_date"] == reported.isoformat()
    page = client_as("coal-a").get(f"/batches/{batch['id']}").text
    assert f"<td data-report-date>{reported.isoformat()}</td>" in page
    undated = quality_http._new_batch(api_as, report_no="JC-RD-HTTP-2")
    assert undated["report_date"] is None
    assert "<td data-report-date>未填</td>" in client_as("coal-a").get(f"/batches/{undated['id']}").text
    anonymous = PageClient(app)
    shown = {b["report_no"]: b for b in anonymous.get("/api/v1/public").json()["batches"]}
    assert (shown["JC-RD-HTTP"]["report_date"], shown["JC-RD-HTTP"]["tested_on"]) == (reported.isoformat(),) * 2
    assert shown["JC-RD-HTTP-2"]["report_date"] is None
    public = anonymous.get("/public").text
    assert f"<td data-report-date>{reported.isoformat()}</td>" in public


def test_the_batch_list_shows_each_batchs_report_date_or_that_it_is_missing(api_as, client_as):
    arrived = clock.today() - timedelta(days=3)
    reported = arrived + timedelta(days=2)
    dated = api_as("coal-a").post("/api/v1/batches", json={
        **REPORT, "report_no": "JC-RD-LIST", "arrival_date": arrived.isoformat(), "report_date": reported.isoformat()})
    assert dated.status_code == 201, dated.text
    undated = quality_http._new_batch(api_as, report_no="JC-RD-LIST-2")
    for who in ("coal-a", "drc"):
        rows = {int(i): cell for i, cell in re.findall(
            r'<a href="/batches/(\d+)">.*?<small class="muted" data-report-date>(.*?)</small>',
            client_as(who).get("/batches").text, re.S)}
        assert rows[dated.json()["id"]] == f"报告日期 {reported.isoformat()}", who
        assert rows[undated["id"]] == "报告日期未填", who


@pytest.mark.parametrize(("arrival", "report", "reason"), [
    (3, -1, "检测报告日期不能晚于今天"),
    (3, 5, "检测报告日期不能早于该批次的到货日期"),
])
def test_a_report_date_in_the_future_or_before_arrival_is_422_naming_the_field(api_as, arrival, report, reason):
    today = clock.today()
    answer = api_as("coal-a").post("/api/v1/batches", json={
        **REPORT, "arrival_date": (today - timedelta(days=arrival)).isoformat(),
        "report_date": (today - timedelta(days=report)).isoformat()})
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["errors"]["report_date"]


def test_the_batch_form_refuses_a_report_date_before_arrival_with_the_reason_beside_it(client_as):
    today = clock.today()
    form = {**{k: str(v) for k, v in REPORT.items() if k != "source"}, "origin": "山西晋城",
            "arrival_date": today.isoformat(), "report_date": (today - timedelta(days=2)).isoformat()}
    clerk = client_as("coal-a")
    assert 'name="report_date"' in clerk.get("/batches/new").text
    answer = clerk.submit("/batches/new", form)
    assert answer.status_code == 422
    assert "检测报告日期不能早于该批次的到货日期" in answer.text and "has-error" in answer.text
    done = clerk.submit("/batches/new", {**form, "report_date": today.isoformat()}, follow_redirects=False)
    assert done.status_code == 303, done.text[:300]


# --- depots ------------------------------------------------------------------------------------------------------

def test_the_api_adds_edits_deactivates_and_reactivates_a_depot(api_as, caiyuan_id, engine):
    clerk = api_as("coal-a")
    depot = _depot(api_as, town_id=caiyuan_id)
    assert depot["active"] is True and depot["town"] == "财源街道"
    daimiao = quality_http._town_id(engine, "daimiao")
    edited = clerk.put(f"/api/v1/depots/{depot['id']}", json={"name": "东关中心保供点", "address": "东关村2组",
                                                             "town_id": daimiao})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["town"]) == ("东关中心保供点", "岱庙街道")
    off = clerk.post(f"/api/v1/depots/{depot['id']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    again = clerk.post(f"/api/v1/depots/{depot['id']}/deactivate")
    assert again.status_code == 422 and "已经是停用状态" in again.text
    (listed,) = clerk.get("/api/v1/depots").json()
    assert listed["active"] is False  # still listed, marked
    refused = clerk.post("/api/v1/batches", json={**REPORT, "report_no": "JC-DP-OFF", "depot_id": depot["id"]})
    assert refused.status_code == 422 and "已停用" in refused.json()["errors"]["depot_id"]
    on = api_as("drc").post(f"/api/v1/depots/{depot['id']}/reactivate")
    assert on.status_code == 200 and on.json()["active"] is True
    assert clerk.post("/api/v1/batches", json={**REPORT, "report_no": "JC-DP-ON", "depot_id": depot["id"]}
                      ).status_code == 201


def test_the_depot_api_answers_422_by_field_409_for_a_taken_name_and_403_or_404_to_others(
        api_as, caiyuan_id, engine):
    depot = _depot(api_as, town_id=caiyuan_id)
    _depot(api_as, name="西关保供点", town_id=caiyuan_id)
    bad = api_as("coal-a").put(f"/api/v1/depots/{depot['id']}", json={"name": " ", "address": "", "town_id": 10**9})
    assert bad.status_code == 422 and {"name", "address", "town_id"} <= set(bad.json()["errors"]), bad.text
    taken = api_as("coal-a").put(f"/api/v1/depots/{depot['id']}", json={"name": "西关保供点", "address": "某地",
                                                                       "town_id": caiyuan_id})
    assert taken.status_code == 409
    assert api_as("drc").post("/api/v1/depots", json={"name": "某点", "address": "某地", "town_id": caiyuan_id}
                              ).status_code == 422  # the bureau names the supplier
    supplier_id = quality_http._coal_a(engine)[0]
    by_bureau = api_as("drc").post("/api/v1/depots", json={"name": "区发改局登记点", "address": "某地",
                                                           "town_id": caiyuan_id, "supplier_id": supplier_id})
    assert by_bureau.status_code == 201 and by_bureau.json()["supplier_id"] == supplier_id
    assert api_as("coal-b").put(f"/api/v1/depots/{depot['id']}", json={
        "name": "越权", "address": "某地", "town_id": caiyuan_id}).status_code in (403, 404)
    assert api_as("coal-b").post(f"/api/v1/depots/{depot['id']}/deactivate").status_code in (403, 404)
    assert api_as("finance").post(f"/api/v1/depots/{depot['id']}/deactivate").status_code == 403
    assert api_as("coal-a").post("/api/v1/depots/999999/deactivate").status_code == 404
    assert [d["name"] for d in api_as("coal-a").get("/api/v1/depots").json()] == ["东关保供点", "区发改局登记点",
                                                                                 "西关保供点"]


def test_the_supplier_page_edits_and_deactivates_a_depot_and_the_forms_no_longer_offer_it(
        client_as, api_as, caiyuan_id, engine):
    supplier_id = quality_http._coal_a(engine)[0]
    depot = _depot(api_as, town_id=caiyuan_id)
    batch = quality_http._new_batch(api_as, report_no="JC-DP-PAGE", depot_id=depot["id"])
    clerk = client_as("coal-a")
    base = f"/suppliers/{supplier_id}/depots/{depot['id']}"
    form = clerk.get(f"{base}/edit")
    assert form.status_code == 200 and 'value="东关保供点"' in form.text
    bad = clerk.submit(f"{base}/edit", {"name": "", "address": "东关村1组1号", "town_id": str(caiyuan_id)})
    assert bad.status_code == 422 and "保供点名称" in bad.text
    done = clerk.submit(f"{base}/edit", {"name": "东关中心保供点", "address": "东关村2组", "town_id": str(caiyuan_id)},
                        follow_redirects=False)
    assert done.status_code == 303
    assert "东关中心保供点" in clerk.get(f"/batches/{batch['id']}").text
    off = clerk.submit(f"{base}/active", {"active": "0"}, follow_redirects=False)
    assert off.status_code == 303
    page = clerk.get(f"/suppliers/{supplier_id}").text
    row = page[page.index(f'data-depot="{depot["id"]}"'):]
    assert "已停用" in row[:row.index("</tr>")] and "重新启用" in row[:row.index("</tr>")]
    assert "东关中心保供点" not in clerk.get("/batches/new").text  # not offered for a new batch
    assert "（已停用）" in clerk.get(f"/batches/{batch['id']}").text  # the old batch keeps it
    spot_form = client_as("drc").get(f"/quality/new?batch_id={batch['id']}").text
    assert 'name="place" type="text" value=""' in spot_form  # nor offered as the place of a new spot check
    twice = clerk.submit(f"{base}/active", {"active": "0"})
    assert twice.status_code == 422 and "已经是停用状态" in twice.text
    assert client_as("coal-b").get(f"{base}/edit").status_code in (403, 404)
    other = client_as("coal-b").submit(f"{base}/active", {"active": "1"})
    assert other.status_code in (403, 404)
    wrong_path = client_as("drc").get(f"/suppliers/{supplier_id + 1}/depots/{depot['id']}/edit")
    assert wrong_path.status_code == 404
