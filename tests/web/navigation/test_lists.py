"""The lists' shared controls on /slips: search by buyer and slip number (in scope), sorting by whitelisted keys,
bounded page sizes and the pager's jump to a page; breadcrumbs on detail pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from subsidy.core import clock, db, paging
from tests.factories import sales as sf
from tests.factories.settlement import make_slip


@pytest.fixture
def slips(engine, demo):
    """25 slips of coal-a to 测试甲 on 25 days and one to 测试乙; one slip of coal-b to 测试乙: their numbers."""
    made = {"a": [], "b": []}
    with db.transaction(engine) as s:
        a, b = sf.supplier(s, "coal-a"), sf.supplier(s, "coal-b")
        _, first = sf.household(s, "dongguan", head_name="测试甲")
        _, second = sf.household(s, "yingxi", head_name="测试乙")
        today = clock.today()
        for day in range(25):
            made["a"].append(make_slip(s, supplier=a, registration=first, issued_on=today - timedelta(days=day),
                                       coal_kg=100).number)
        made["a"].append(make_slip(s, supplier=a, registration=second, issued_on=today, coal_kg=100).number)
        made["b"].append(make_slip(s, supplier=b, registration=second, issued_on=today, coal_kg=100).number)
    return made


def numbers(text: str) -> list[str]:
    return re.findall(r'<td><a href="/slips/([^"]+)">', text)


def test_slips_are_found_by_buyer_name_in_scope_only(client_as, slips):
    mine = numbers(client_as("coal-a").get("/slips", params={"buyer": "测试乙"}).text)
    assert mine == [slips["a"][-1]]
    theirs = numbers(client_as("coal-b").get("/slips", params={"buyer": "测试乙"}).text)
    assert theirs == slips["b"]  # coal-b never sees coal-a's slip to the same buyer
    assert numbers(client_as("coal-a").get("/slips", params={"buyer": "测试"}).text) == []  # a whole name, not a part


def test_slips_are_found_by_number_or_its_beginning_in_scope_only(client_as, slips):
    client = client_as("coal-a")
    target = slips["a"][3]
    assert numbers(client.get("/slips", params={"number": target}).text) == [target]
    assert numbers(client.get("/slips", params={"number": target.lower()}).text) == [target]
    prefix = target[:-3]  # the number without its last sequence digit and check character
    found = numbers(client.get("/slips", params={"number": prefix, "per_page": 100}).text)
    assert target in found and all(n.startswith(prefix) for n in found)
    assert numbers(client.get("/slips", params={"number": slips["b"][0]}).text) == []  # another supplier's slip
    assert numbers(client.get("/slips", params={"number": "%"}).text) == []  # no wildcard
    assert client.get("/slips", params={"number": "A\x00"}).status_code in (200, 422)


def test_slips_sort_by_number_both_ways_and_ignore_other_keys(client_as, slips):
    client = client_as("coal-a")
    ascending = numbers(client.get("/slips", params={"sort": "number", "per_page": 100}).text)
    assert ascending == sorted(slips["a"])
    descending = numbers(client.get("/slips", params={"sort": "-number", "per_page": 100}).text)
    assert descending == sorted(slips["a"], reverse=True)
    by_day = numbers(client.get("/slips", params={"per_page": 100}).text)
    oldest_first = numbers(client.get("/slips", params={"sort": "issued_on", "per_page": 100}).text)
    assert by_day[-1] == slips["a"][24] and oldest_first[0] == slips["a"][24]  # the slip of 24 days ago
    for bad in ("amount_fen", "--number", "number-", "id; drop table slip", "-"):
        response = client.get("/slips", params={"sort": bad, "per_page": 100})
        assert response.status_code == 200, bad
        assert numbers(response.text) == by_day, bad  # ignored: the default order


def test_a_sort_heading_toggles_its_direction(client_as, slips):
    text = client_as("coal-a").get("/slips", params={"sort": "number"}).text
    assert re.search(r'aria-sort="ascending">\s*<a href="/slips\?[^"]*sort=-number', text)


def test_page_size_is_one_of_the_offered_sizes(client_as, slips):
    client = client_as("coal-a")
    assert len(numbers(client.get("/slips", params={"per_page": 20}).text)) == 20
    assert "共 26 条，第 1/2 页" in client.get("/slips", params={"per_page": 20}).text
    for bad in ("5", "100000", "-1", "abc"):
        response = client.get("/slips", params={"per_page": bad})
        assert response.status_code == 200
        assert len(numbers(response.text)) == 26 and "共 26 条，第 1/1 页" in response.text  # the default, 50


def test_page_size_and_sort_rules():
    assert [paging.page_size(v) for v in (None, "", "20", 100, "7", "x", 10**9)] == [50, 50, 20, 100, 50, 50, 50]
    allowed = {"number": object()}
    assert [paging.sort_key(v, allowed, "-number") for v in ("number", "-number", "x", "--number", None)] == \
        ["number", "-number", "-number", "-number", "-number"]


def test_the_pager_jumps_to_a_page_keeping_the_filters(client_as, slips):
    client = client_as("coal-a")
    text = client.get("/slips", params={"per_page": 20, "sort": "number"}).text
    jump = re.search(r'<form method="get" action="/slips" class="jump">(.*?)</form>', text, re.S).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', jump))
    assert hidden == {"sort": "number", "per_page": "20"}
    assert 'name="page" min="1" max="2"' in jump
    second = client.get("/slips", params={**hidden, "page": 2}).text
    assert numbers(second) == sorted(slips["a"])[20:]
    assert "第 2/2 页" in second


def test_detail_pages_have_breadcrumbs(client_as, slips, engine):
    client = client_as("coal-a")
    text = client.get(f"/slips/{slips['a'][0]}").text
    crumbs = re.search(r'<nav class="breadcrumbs[^"]*"[^>]*>(.*?)</nav>', text, re.S).group(1)
    assert '<a href="/slips">销售单</a>' in crumbs and slips["a"][0] in crumbs
    batch_page = client.get("/batches").text
    batch_id = re.search(r'href="/batches/(\d+)"', batch_page).group(1)
    assert '<a href="/batches">进货批次</a>' in client.get(f"/batches/{batch_id}").text
    town = client_as("caiyuan")
    hh = re.search(r'href="/households/(\d+)"', town.get("/households").text).group(1)
    assert '<nav class="breadcrumbs' in town.get(f"/households/{hh}").text


def test_batches_and_contracts_share_the_filter_bar_and_its_page_size(client_as, demo):
    client = client_as("drc")
    for path in ("/batches", "/contracts"):
        text = client.get(path, params={"per_page": 20}).text
        bar = re.search(r'<form method="get" action="([^"]+)" class="toolbar filter-bar[^"]*"[^>]*>(.*?)</form>', text, re.S)
        assert bar and bar.group(1) == path, path
        assert '<option value="20" selected>' in bar.group(2), path
        rows = client.get(path, params={"per_page": 9999})
        assert rows.status_code == 200 and '<option value="50" selected>' in rows.text, path
