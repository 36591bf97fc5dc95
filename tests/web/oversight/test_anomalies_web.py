"""The anomaly flags on the pages and in the API (CONTRACT.md, "Oversight"): who reads and who reviews, the answers'
shapes, a dismissal's reason refused by its field, a confirmation answering its case, phones never whole."""

from __future__ import annotations

import re
from html import unescape

from subsidy.core import clock, db
from subsidy.models import AnomalyFlag
from subsidy.policy.seasons import active_season
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


def _many_flags(engine, n: int) -> list[int]:
    """`n` open undelivered flags stored directly (the paging is under test, not the rules): their ids."""
    with db.transaction(engine) as s:
        season_id, now = active_season(s).id, clock.now()
        flags = [AnomalyFlag(season_id=season_id, rule="undelivered", subject_key=f"paging:{i}", subject=f"翻页{i}",
                             member_kind="slip", members=str(i + 1), size=1, figure=1, base=7,
                             fingerprint=f"{i:032d}", first_seen_at=now, last_seen_at=now) for i in range(n)]
        s.add_all(flags)
        s.flush()
        return sorted((f.id for f in flags), reverse=True)


def test_the_api_pages_the_flags_by_cursor_with_a_capped_total(api_as, engine):
    ids = _many_flags(engine, 55)
    auditor = api_as("auditor")
    first = auditor.get("/api/v1/reports/anomalies?rule=undelivered").json()
    assert (first["total"], first["total_capped"], first["page"], first["per_page"]) == (55, False, 1, 50)
    assert [i["id"] for i in first["items"]] == ids[:50] and first["prev"] is None and first["next"]
    second = auditor.get("/api/v1/reports/anomalies", params={"rule": "undelivered", "after": first["next"]}).json()
    assert [i["id"] for i in second["items"]] == ids[50:] and second["page"] == 2 and second["next"] is None
    back = auditor.get("/api/v1/reports/anomalies", params={"rule": "undelivered", "before": second["prev"]}).json()
    assert [i["id"] for i in back["items"]] == ids[:50]
    assert auditor.get("/api/v1/reports/anomalies?after=nonsense").status_code == 422


def test_the_list_page_pages_through_the_common_pager_keeping_its_filters(client_as, engine):
    ids = _many_flags(engine, 25)
    page = client_as("drc").get("/anomalies?rule=undelivered&per_page=20")
    assert page.status_code == 200 and "共 25 条，第 1/2 页" in page.text
    listed = [int(i) for i in re.findall(r'href="/anomalies/(\d+)"', page.text)]
    assert listed == ids[:20]
    after = unescape(re.search(r'href="([^"]*after=[^"]*)" rel="next"', page.text).group(1))
    assert "rule=undelivered" in after and "per_page=20" in after
    rest = client_as("drc").get(after).text
    assert [int(i) for i in re.findall(r'href="/anomalies/(\d+)"', rest)] == ids[20:] and "第 2/2 页" in rest
    assert 'rel="next"' not in rest
