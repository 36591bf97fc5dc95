"""Keyset pages, capped counts and bounded page numbers (subsidy/core/paging.py), on a real table (villages: a name
shared by many rows is the tie the row id must break), on both databases."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import insert, select, text

from subsidy.core import paging
from subsidy.core.errors import Refused
from subsidy.models import District, Town, Village

NAMES = ["东关", "西关", "南街", "北街", "中心"]
SORTS = {"name": Village.name, "id": Village.id}


@pytest.fixture
def town_id(session):
    district = District(code="D-PAGING", name="测试区")
    session.add(district)
    session.flush()
    town = Town(district_id=district.id, code="T-PAGING", name="测试镇")
    session.add(town)
    session.flush()
    return town.id


def add_villages(session, town_id, names, start):
    session.execute(insert(Village), [{"town_id": town_id, "code": f"V-PG-{start + i}", "name": name}
                                      for i, name in enumerate(names)])
    session.flush()


def villages_of(town_id):
    return select(Village).where(Village.town_id == town_id)


def key(order, village):
    return (village.name, village.id) if order.column is Village.name else (village.id,)


@pytest.mark.parametrize("sort", ["name", "-name", "-id"])
def test_paging_by_cursor_shows_every_row_once_while_rows_are_inserted_between_pages(session, town_id, sort):
    add_villages(session, town_id, [NAMES[i % 5] for i in range(57)], 0)
    originals = {v.id for v in session.execute(villages_of(town_id)).scalars()}
    order = paging.Order.of(sort, SORTS, "name", Village.id)
    seen, cursor, pages, added = [], None, 0, 0
    while True:
        pg = paging.fetch(session, villages_of(town_id), order, per_page=20, after=cursor)
        pages += 1
        assert pg.page == pages
        seen += pg.items
        if pg.next is None:
            break
        cursor = pg.next
        # Rows arrive between pages on both sides of the cursor: ties of the last name, before and after it.
        add_villages(session, town_id, [pg.items[-1].name, NAMES[0], NAMES[4]], 1000 + added)
        added += 3
    ids = [v.id for v in seen]
    assert len(ids) == len(set(ids)), "a row shown twice"
    assert originals <= set(ids), "a row that was there all along went missing"
    keys = [key(order, v) for v in seen]
    assert keys == sorted(keys, reverse=order.descending), "pages out of order"


def test_previous_goes_back_to_the_same_rows_and_the_first_page_has_no_previous(session, town_id):
    add_villages(session, town_id, [NAMES[i % 5] for i in range(45)], 0)
    order = paging.Order.of("name", SORTS, "name", Village.id)
    first = paging.fetch(session, villages_of(town_id), order, per_page=20)
    second = paging.fetch(session, villages_of(town_id), order, per_page=20, after=first.next)
    third = paging.fetch(session, villages_of(town_id), order, per_page=20, after=second.next)
    assert [len(p.items) for p in (first, second, third)] == [20, 20, 5] and third.next is None
    back = paging.fetch(session, villages_of(town_id), order, per_page=20, before=third.prev)
    assert [v.id for v in back.items] == [v.id for v in second.items] and back.page == 2
    start = paging.fetch(session, villages_of(town_id), order, per_page=20, before=back.prev)
    assert [v.id for v in start.items] == [v.id for v in first.items] and start.page == 1
    assert first.prev is None and start.prev is None
    by_number = paging.fetch(session, villages_of(town_id), order, per_page=20, page=2)
    assert [v.id for v in by_number.items] == [v.id for v in second.items] and by_number.next == second.next


def test_the_total_is_capped_and_exact_on_request(session, town_id, monkeypatch):
    add_villages(session, town_id, [NAMES[i % 5] for i in range(57)], 0)
    order = paging.Order.of(None, SORTS, "-id", Village.id)
    assert paging.capped_count(session, villages_of(town_id), cap=10) == 11
    monkeypatch.setattr(paging, "COUNT_CAP", 10)
    capped = paging.fetch(session, villages_of(town_id), order, per_page=20)
    assert (capped.total, capped.total_capped, capped.pages) == (10, True, None)
    exact = paging.fetch(session, villages_of(town_id), order, per_page=20, count="exact")
    assert (exact.total, exact.total_capped, exact.pages) == (57, False, 3)
    monkeypatch.setattr(paging, "COUNT_CAP", 100)
    assert paging.fetch(session, villages_of(town_id), order, per_page=20).total == 57


def test_a_page_number_beyond_the_bound_is_refused_pointing_to_the_cursor(session, town_id):
    order = paging.Order.of(None, SORTS, "-id", Village.id)
    assert paging.fetch(session, villages_of(town_id), order, page=paging.MAX_PAGE).items == []
    with pytest.raises(Refused) as refused:
        paging.fetch(session, villages_of(town_id), order, page=paging.MAX_PAGE + 1)
    assert "page" in refused.value.errors and "after" in refused.value.errors["page"]


@pytest.mark.parametrize("cursor", ["not-base64!", base64.urlsafe_b64encode(b'[1, 5]').decode(),
                                    base64.urlsafe_b64encode(b'[1, 5, "x"]').decode(),
                                    base64.urlsafe_b64encode(b'[0, "a", 3]').decode(),
                                    base64.urlsafe_b64encode(b'{"a": 1}').decode()])
def test_a_cursor_edited_by_hand_is_refused_by_its_field(session, town_id, cursor):
    order = paging.Order.of("name", SORTS, "name", Village.id)
    with pytest.raises(Refused) as refused:
        paging.fetch(session, villages_of(town_id), order, before=cursor)
    assert "before" in refused.value.errors


def test_a_cursor_is_the_page_number_and_the_sort_key_of_its_row():
    raw = json.loads(base64.urlsafe_b64decode(paging.encode_cursor(3, ["东关", 17]) + "=="))
    assert raw == [3, "东关", 17]


@pytest.mark.pg_only(reason="statement_timeout is PostgreSQL's")
def test_an_exact_count_that_runs_out_of_time_says_so_and_leaves_the_session_as_it_was(session, town_id, db_url):
    add_villages(session, town_id, [NAMES[i % 5] for i in range(20)], 0)
    before = session.execute(text("SHOW statement_timeout")).scalar_one()
    slow = villages_of(town_id).where(text("pg_sleep(0.05) IS NOT NULL"))
    assert paging.exact_count(session, slow, timeout_ms=100) is None
    assert session.execute(text("SHOW statement_timeout")).scalar_one() == before
    assert paging.exact_count(session, villages_of(town_id)) == 20
    assert session.execute(select(Village.id).where(Village.town_id == town_id)).first() is not None


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_a_jump_begins_at_the_first_row_of_that_value_in_the_orders_direction(session, town_id, sort):
    add_villages(session, town_id, [NAMES[i % 5] for i in range(57)], 0)
    order = paging.Order.of(sort, SORTS, "name", Village.id)
    everything = paging.fetch(session, villages_of(town_id), order, per_page=100).items
    # Present values only: where an absent one falls is the database's collation, not Python's.
    for value in NAMES:
        pg = paging.fetch(session, villages_of(town_id), order, per_page=20, at=value)
        ahead_of = next(i for i, v in enumerate(everything) if v.name == value)
        expected = everything[ahead_of:ahead_of + 20]
        assert [v.id for v in pg.items] == [v.id for v in expected], value
        assert pg.page == (-(-ahead_of // 20) + 1)
        assert (pg.prev is not None) == (ahead_of > 0)
        if pg.prev:  # back from the jump: the rows just before it, in order
            back = paging.fetch(session, villages_of(town_id), order, per_page=20, before=pg.prev)
            assert [v.id for v in back.items] == [v.id for v in everything[max(0, ahead_of - 20):ahead_of]]


def test_an_api_page_size_is_one_of_the_sizes_and_anything_else_is_refused():
    assert paging.api_page_size(None) == paging.api_page_size("") == paging.DEFAULT_PAGE_SIZE
    assert [paging.api_page_size(n) for n in (20, "50", 100)] == [20, 50, 100]
    for bad in (30, "abc", 0, -20, 1000, "20.0", True):
        with pytest.raises(Refused) as refused:
            paging.api_page_size(bad)
        assert "per_page" in refused.value.errors, bad
