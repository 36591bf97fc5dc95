"""Every API list takes `per_page` 20, 50 (the default) or 100 and refuses any other with the field's reason, and
refuses a `page` beyond paging.MAX_PAGE (deeper is by cursor), through one helper (paging.api_page_size)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select, update

from subsidy.core import db, paging
from subsidy.models import AnomalyFlag, Batch, Case, Registration, Season, Summary, Supplier, Town
from tests.factories import sales as sf

ROWS = 120  # more than the largest page


@pytest.fixture
def many(engine, demo):
    """ROWS more batches of coal-a, summaries of coal-a in 财源街道, cases and anomaly flags; every registration
    approved and more households in 东关村 (coal-a's delivery list, the households)."""
    with db.transaction(engine) as s:
        season = s.execute(select(Season.id).where(Season.is_active)).scalar_one()
        coal_a = s.execute(select(Supplier.id).where(Supplier.code == "coal-a")).scalar_one()
        town = s.execute(select(Town.id).where(Town.code == "caiyuan")).scalar_one()
        batch = {k: v for k, v in s.execute(select(Batch.__table__).where(Batch.supplier_id == coal_a)).mappings()
                 .first().items() if k != "id"}
        s.execute(insert(Batch), [{**batch, "report_no": f"P-{i}"} for i in range(ROWS)])
        s.execute(insert(Summary), [dict(supplier_id=coal_a, town_id=town, season_id=season, month=f"2020-{1 + i % 12:02d}")
                                    for i in range(ROWS)])
        s.execute(insert(Case), [dict(number=f"P-{i}", season_id=season, seq=1000 + i, channel="hotline",
                                      category="other", description="", town_id=town, deadline=date(2026, 12, 31))
                                 for i in range(ROWS)])
        s.execute(insert(AnomalyFlag), [dict(season_id=season, rule="shared_phone", subject_key=f"k{i}", subject="s",
                                             member_kind="household", members="1,2", size=2, figure=2, base=0,
                                             fingerprint=f"f{i}", status="open") for i in range(ROWS)])
        s.execute(update(Registration).values(status="approved"))
        for i in range(ROWS - 36):  # coal-a's delivery list has 36 of the demo's
            sf.household(s, "dongguan", head_name=f"分页{i}")


def _items(body) -> list:
    return body if isinstance(body, list) else body["items"]


# (who, method, path, body): every list of the API.
LISTS = {
    "households": ("drc", "GET", "/api/v1/households", None),
    "households/search": ("drc", "POST", "/api/v1/households/search", {"q": ""}),
    "cases": ("drc", "GET", "/api/v1/cases", None),
    "summaries": ("drc", "GET", "/api/v1/summaries", None),
    "batches": ("drc", "GET", "/api/v1/batches", None),
    "deliveries": ("coal-a", "GET", "/api/v1/deliveries", None),
    "reports/anomalies": ("drc", "GET", "/api/v1/reports/anomalies", None),
}


def _call(api_as, name: str, **paging_args):
    who, method, path, body = LISTS[name]
    client = api_as(who)
    if method == "POST":
        return client.post(path, json={**body, **paging_args})
    return client.get(path, params=paging_args)


@pytest.mark.parametrize("name", list(LISTS))
def test_an_api_list_gives_the_page_size_asked_for_among_20_50_and_100(api_as, many, name):
    sizes = {}
    for per_page in (None, 20, 50, 100):
        response = _call(api_as, name, **({} if per_page is None else {"per_page": per_page}))
        assert response.status_code == 200, (name, per_page, response.text)
        sizes[per_page] = len(_items(response.json()))
        if isinstance(response.json(), dict):
            assert response.json()["per_page"] == (per_page or paging.DEFAULT_PAGE_SIZE)
    assert sizes[20] == 20 and sizes[50] == 50 and sizes[None] == 50, (name, sizes)
    assert 50 < sizes[100] <= 100, (name, sizes)


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("bad", [30, 0, -20, 1000, "abc"])
def test_an_api_list_refuses_another_page_size_by_its_field(api_as, many, name, bad):
    if name == "households/search" and bad == "abc":
        bad = "50"  # the JSON body's strict integer: a string is refused by its type instead
    response = _call(api_as, name, per_page=bad)
    assert response.status_code == 422, (name, bad, response.text)
    reason = response.json()["errors"]["per_page"]
    assert "20" in reason or "整数" in reason, reason


@pytest.mark.parametrize("name", list(LISTS))
def test_an_api_list_refuses_a_page_beyond_the_bound_and_serves_the_last_one_allowed(api_as, many, name):
    response = _call(api_as, name, page=paging.MAX_PAGE + 1)
    assert response.status_code == 422, (name, response.text)
    assert "页码" in response.json()["errors"]["page"]
    response = _call(api_as, name, page=paging.MAX_PAGE)
    assert response.status_code == 200 and _items(response.json()) == []
