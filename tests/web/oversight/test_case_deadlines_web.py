"""Case deadlines on the season's policy page and in the API: the bureau sets the days per category, a wrong value
is refused by its field with the policy's fields still filled, the other roles read, and a case opened afterwards
gets the policy's deadline."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from subsidy.core import db
from subsidy.policy.seasons import active_season

OPENED = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 1 December in China


def _season_id(engine) -> int:
    with db.new_session(engine) as s:
        return active_season(s).id


def _value(page: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)


def test_the_bureau_sets_deadlines_on_the_policy_page_and_a_new_case_gets_them(client_as, engine, frozen):
    frozen(OPENED)
    season_id = _season_id(engine)
    drc = client_as("drc")
    page = drc.get(f"/seasons/{season_id}").text
    assert "投诉举报案件办理期限（天）" in page and _value(page, "deadline_quality") == "7"
    bad = drc.submit(f"/seasons/{season_id}/case-deadlines", {"deadline_quality": "0", "deadline_price": "abc"})
    assert bad.status_code == 422
    assert "劣质煤的办理期限应在1至365天之间" in bad.text and "价格违规的办理期限应为整数天" in bad.text
    assert _value(bad.text, "deadline_price") == "abc" and _value(bad.text, "hotline") == "0538-12345"
    saved = drc.submit(f"/seasons/{season_id}/case-deadlines", {"deadline_quality": "5", "deadline_price": ""},
                       follow_redirects=False)
    assert saved.status_code == 303
    page = drc.get(saved.headers["location"]).text
    assert "投诉举报案件办理期限已保存" in page
    assert (_value(page, "deadline_quality"), _value(page, "deadline_price")) == ("5", "7")
    town = client_as("caiyuan")
    made = town.submit("/cases/", {"channel": "hotline", "category": "quality", "description": "煤块冒黑烟"},
                       follow_redirects=False)
    assert "2026-12-06" in town.get(made.headers["location"].split("?")[0]).text  # 5 days


def test_finance_reads_the_deadlines_but_may_not_set_them(client_as, engine):
    season_id = _season_id(engine)
    finance = client_as("finance")
    page = finance.get(f"/seasons/{season_id}").text
    assert "投诉举报案件办理期限（天）" in page and "保存办理期限" not in page
    assert finance.submit(f"/seasons/{season_id}/case-deadlines", {"deadline_quality": "3"}).status_code == 403


def test_the_api_reads_and_sets_the_deadlines_and_names_each_wrong_value(api_as, engine, frozen):
    frozen(OPENED)
    season_id = _season_id(engine)
    url = f"/api/v1/seasons/{season_id}/case-deadlines"
    read = api_as("auditor").get(url)
    assert read.status_code == 200 and read.json()["deadlines"]["quality"] == 7 and len(read.json()["deadlines"]) == 7
    drc = api_as("drc")
    bad = drc.put(url, json={"deadlines": {"quality": 0, "short_weight": 400}})
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"deadlines.quality", "deadlines.short_weight"}
    unknown = drc.put(url, json={"deadlines": {"weather": 3}})
    assert unknown.status_code == 422 and "deadlines" in unknown.json()["errors"]
    assert api_as("finance").put(url, json={"deadlines": {"quality": 3}}).status_code == 403
    saved = drc.put(url, json={"deadlines": {"quality": 3}})
    assert saved.status_code == 200 and saved.json()["deadlines"]["quality"] == 3
    assert saved.json()["deadlines"]["other"] == 7
    assert api_as("caiyuan").get(url).json()["deadlines"]["quality"] == 3
    made = api_as("caiyuan").post("/api/v1/cases", json={"channel": "hotline", "category": "quality",
                                                         "description": "煤质差"})
    assert made.status_code == 201 and made.json()["deadline"] == "2026-12-04"
    assert drc.get(f"/api/v1/seasons/999999/case-deadlines").status_code == 404
