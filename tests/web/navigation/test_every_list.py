"""Every list page renders through the one pager, pages forward and back by its cursors (the same rows come back),
and a page past the end, or above paging.MAX_PAGE, says so in Chinese on the list itself rather than an error page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from subsidy.core import audit, clock, db, paging
from subsidy.models import Season, Settlement, Supplier
from tests.factories import sales as sf
from tests.factories.settlement import make_slip
from tests.web.navigation.test_api_paging import many  # noqa: F401  (the fixture)

# (who, path): every list page with the shared pager, and whether the fixtures give it more than two pages of 20.
LISTS = {
    "slips": ("coal-a", "/slips", True),
    "missing copies": ("caiyuan", "/scans/missing", True),
    "summaries": ("drc", "/summaries", True),
    "statements": ("finance", "/settlements", True),
    "households": ("drc", "/households", True),
    "registrations": ("drc", "/registrations", True),
    "cases": ("drc", "/cases", True),
    "audit log": ("auditor", "/audit", True),
    "batches": ("drc", "/batches", True),
    "suppliers": ("drc", "/suppliers", False),
    "contracts": ("drc", "/contracts", False),
    "users": ("admin", "/admin/users", True),
}


@pytest.fixture
def lists(engine, many):  # noqa: F811
    """Beside `many`: 45 slips of coal-a in 东关村 (a town's missing copies too), 45 statements, 45 entries in the
    audit log (written as the app writes them, signed at the commit)."""
    with db.transaction(engine) as s:
        coal_a = sf.supplier(s, "coal-a")
        _, registration = sf.household(s, "dongguan", coal_kg=100_000, head_name="翻页户")
        for day in range(45):
            make_slip(s, supplier=coal_a, registration=registration, issued_on=clock.today() - timedelta(days=day % 9),
                      coal_kg=100)
        season = s.execute(select(Season.id).where(Season.is_active)).scalar_one()
        suppliers = list(s.execute(select(Supplier.id)).scalars())
        s.execute(insert(Settlement), [dict(number=f"JS-P-{i}", supplier_id=suppliers[i % len(suppliers)],
                                            season_id=season, month=f"2020-{1 + i % 12:02d}", seq=10 + i)
                                       for i in range(45)])
        drc = sf.user(s, "drc")
        for _ in range(45):
            audit.record(s, drc, "registration.approved", registration)


def _rows(text: str) -> str:
    """The page above its pager (the list, and any queue or filter bar above it), without its CSRF tokens."""
    above = text.split('<nav class="pager')[0]
    return re.sub(r'name="_csrf_token" value="[^"]*"', "", above)


def _pager(text: str) -> str:
    found = re.search(r'<nav class="pager[^"]*" aria-label="翻页">(.*?)</nav>', text, re.S)
    assert found, "no pager"
    return found.group(1)


def _link(text: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', _pager(text))
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize("name", list(LISTS))
def test_a_list_pages_forward_and_back_with_its_pager(client_as, lists, name):
    who, path, paged = LISTS[name]
    client = client_as(who)
    first = client.get(path, params={"per_page": 20})
    assert first.status_code == 200, (name, first.text[:500])
    assert "第 1" in _pager(first.text) and _link(first.text, "prev") is None
    forward = _link(first.text, "next")
    if not paged:
        return
    assert forward and "after=" in forward, name
    second = client.get(forward)
    assert second.status_code == 200 and "第 2" in _pager(second.text)
    assert _rows(second.text) != _rows(first.text)
    back = _link(second.text, "prev")
    assert back and "before=" in back
    again = client.get(back)
    assert _rows(again.text) == _rows(first.text), f"{name}: back is not the first page"
    assert "第 1" in _pager(again.text)


@pytest.mark.parametrize("name", list(LISTS))
def test_a_page_past_the_end_says_so_on_the_list(client_as, lists, name):
    who, path, _ = LISTS[name]
    client = client_as(who)
    past = client.get(path, params={"page": paging.MAX_PAGE, "per_page": 20})
    assert past.status_code == 200, (name, past.text[:500])
    note = re.search(r"data-page-note>(.*?)</p>", past.text, re.S)
    assert note and f"第 {paging.MAX_PAGE} 页没有记录" in note.group(1), name
    assert "回到第一页" in note.group(1)

    beyond = client.get(path, params={"page": paging.MAX_PAGE + 1})
    assert beyond.status_code == 200, (name, beyond.text[:500])  # the list, not an error page
    note = re.search(r"data-page-note>(.*?)</p>", beyond.text, re.S)
    assert note and "页码不能超过 1000" in note.group(1) and "第一页" in note.group(1), name
    assert "第 1" in _pager(beyond.text)


def test_the_posted_household_search_pages_by_posting_and_jumps_by_posting(client_as, lists):
    client = client_as("drc")
    found = client.submit("/households/search", {"q": "分页", "per_page": "20"})
    assert found.status_code == 200
    pager = _pager(found.text)
    assert 'method="post" action="/households/search" class="pager-form"' in pager
    assert re.search(r'<form method="post" action="/households/search" class="jump">', pager)
    assert 'name="q" value="分页"' in pager  # the search is carried in the form, never in a link
    after = re.search(r'name="after" value="([^"]+)"', pager).group(1)
    second = client.submit("/households/search", {"q": "分页", "per_page": "20", "after": after})
    assert "第 2" in _pager(second.text) and _rows(second.text) != _rows(found.text)
    jumped = client.submit("/households/search", {"q": "分页", "per_page": "20", "page": "3"})
    assert "第 3" in _pager(jumped.text)


def test_slips_jump_to_a_date_and_page_on_from_there(client_as, lists):
    client = client_as("coal-a")
    day = clock.today() - timedelta(days=4)
    text = client.get("/slips", params={"on": day.isoformat(), "per_page": 20}).text
    dates = re.findall(r'<td><a href="/slips/[^"]+">[^<]+</a></td><td>([^<]+)</td>', text)
    assert dates and dates[0] == f"{day.year}-{day.month:02d}-{day.day:02d}", dates[:3]
    assert 'name="on" value="' + day.isoformat() + '"' in text
    # Newest first: every slip after the date's first comes from that day or earlier; the later days are before it.
    assert all(d <= dates[0] for d in dates)
    assert "第 1" not in _pager(text) and _link(text, "prev")
    earlier = client.get(_link(text, "prev")).text
    assert all(d > dates[0] for d in re.findall(r'<td><a href="/slips/[^"]+">[^<]+</a></td><td>([^<]+)</td>',
                                                 earlier))
    oldest_first = client.get("/slips", params={"on": day.isoformat(), "sort": "issued_on"}).text
    ascending = re.findall(r'<td><a href="/slips/[^"]+">[^<]+</a></td><td>([^<]+)</td>', oldest_first)
    assert ascending[0] == dates[0] and all(d >= dates[0] for d in ascending)


def test_households_jump_to_a_name_in_the_order_by_name(client_as, lists):
    client = client_as("drc")
    text = client.get("/households", params={"from_name": "分页5", "per_page": 20}).text
    names = re.findall(r'<tr><td>[^<]*</td><td>([^<]+)</td>', _rows(text))
    assert names[0] == "分页5", names[:5]
    assert "第 1" not in _pager(text)  # 分页0 … 分页49 come before it
    assert 'name="from_name" value="分页5"' in text
    back = client.get(_link(text, "prev")).text
    assert "分页5" not in re.findall(r'<tr><td>[^<]*</td><td>([^<]+)</td>', _rows(back))
