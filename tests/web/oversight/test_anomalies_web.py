"""The anomaly flags on the pages and in the API (CONTRACT.md, "Oversight"): who reads and who reviews, the answers'
shapes, a dismissal's reason refused by its field, a confirmation answering its case, phones never whole."""

from __future__ import annotations

import re

from subsidy.core import db
from tests.factories import oversight as o

PHONE = "13977778888"


def _plant(engine) -> list[int]:
    with db.transaction(engine) as s:
        return sorted(h.id for h in o.households(s, 3, phone=PHONE))


def _flag_of(api, ids) -> dict:
    items = api.get("/api/v1/reports/anomalies?rule=shared_phone&status=open").json()["items"]
    return next(i for i in items if i["evidence"]["ids"] == ids)


def test_the_bureau_runs_the_rules_and_lists_dismisses_and_confirms_flags_in_the_api(api_as, engine):
    ids = _plant(engine)
    drc = api_as("drc")
    ran = drc.post("/api/v1/anomalies/run")
    assert ran.status_code == 200 and ran.json()["ran"] and ran.json()["raised"]["shared_phone"] >= 1
    flag = _flag_of(drc, ids)
    assert set(flag) >= {"id", "rule", "subject", "evidence", "status"}
    assert (flag["rule"], flag["status"], flag["evidence"]["kind"], flag["evidence"]["count"]) == (
        "shared_phone", "open", "household", 3)
    assert PHONE not in str(flag) and "8888" in flag["subject"]
    refused = drc.post(f"/api/v1/anomalies/{flag['id']}/dismiss", json={"reason": ""})
    assert refused.status_code == 422 and "reason" in refused.json()["errors"]
    confirmed = drc.post(f"/api/v1/anomalies/{flag['id']}/confirm", json={"comment": "核实为代办"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    case = drc.get(f"/api/v1/cases/{confirmed.json()['case_id']}").json()
    assert case["channel"] == "system" and case["links"][0] == {"kind": "household", "target_id": ids[0],
                                                                 "label": case["links"][0]["label"]}
    again = drc.post(f"/api/v1/anomalies/{flag['id']}/dismiss", json={"reason": "重复"})
    assert again.status_code == 409
    assert drc.get("/api/v1/reports/anomalies?status=nonsense").status_code == 422


def test_finance_and_the_auditor_read_flags_but_do_not_review_and_others_do_not_see_them(api_as, engine):
    _plant(engine)
    api_as("drc").post("/api/v1/anomalies/run")
    for reader in ("finance", "auditor"):
        client = api_as(reader)
        [first, *_] = client.get("/api/v1/reports/anomalies").json()["items"]
        assert client.post(f"/api/v1/anomalies/{first['id']}/dismiss", json={"reason": "x"}).status_code == 403
        assert client.post(f"/api/v1/anomalies/{first['id']}/confirm").status_code == 403
        assert client.post("/api/v1/anomalies/run").status_code == 403
    for outsider in ("caiyuan", "coal-a", "dongguan"):
        assert api_as(outsider).get("/api/v1/reports/anomalies").status_code == 403
    assert api_as("drc").post("/api/v1/anomalies/999999/confirm").status_code == 404


def test_the_bureau_reviews_a_flag_on_its_pages_and_the_home_page_counts_the_open_ones(client_as, engine):
    ids = _plant(engine)
    drc = client_as("drc")
    assert drc.submit("/anomalies/run", {}).status_code == 200
    home = drc.get("/").text
    assert re.search(r'href="/anomalies\?status=open">\s*<span class="count">[1-9]', home)
    listed = drc.get("/anomalies?rule=shared_phone&status=open").text
    assert "多户共用手机号" in listed and PHONE not in listed
    flag_id = re.search(r'href="/anomalies/(\d+)"', listed).group(1)
    page = drc.get(f"/anomalies/{flag_id}").text
    assert all(f'href="/households/{i}"' in page for i in ids) and PHONE not in page and "*******8888" in page
    refused = drc.submit(f"/anomalies/{flag_id}/dismiss", {"reason": " "})
    assert refused.status_code == 422 and "请填写排除理由" in refused.text
    drc.submit(f"/anomalies/{flag_id}/dismiss", {"reason": "一家三代共用一个电话"})
    page = drc.get(f"/anomalies/{flag_id}").text
    assert "已排除" in page and "一家三代共用一个电话" in page and "/confirm" not in page
    drc.submit("/anomalies/run", {})
    assert f'href="/anomalies/{flag_id}"' not in drc.get("/anomalies?status=open").text
    finance = client_as("finance").get(f"/anomalies/{flag_id}").text
    assert "一家三代共用一个电话" in finance and "/dismiss" not in finance
    assert client_as("caiyuan").get("/anomalies").status_code == 403
