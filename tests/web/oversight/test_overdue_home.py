"""Overdue cases are flagged on the home page of every role that sees cases: the town (its own town's), the bureau,
finance and the auditor (who read them), each linking to the list of overdue cases it may open."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from subsidy.core import clock, db
from subsidy.models import Town
from subsidy.oversight import cases
from sqlalchemy import select

TILE = r'class="tile ?(urgent)?" href="/cases\?overdue=1">\s*<span class="count">(\d+)</span>\s*<span class="label">逾期未办结的投诉举报案件'


def _overdue_count(page: str) -> int | None:
    found = re.search(TILE, page)
    return int(found.group(2)) if found else None


@pytest.fixture
def overdue(engine, demo):
    """Two overdue cases (one of 财源街道, one of the bureau) and a closed one, ten days after they were opened."""
    clock.freeze(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    with db.transaction(engine) as s:
        caiyuan = s.execute(select(Town.id).where(Town.code == "caiyuan")).scalar_one()
        cases.open_case(s, None, channel="hotline", category="quality", description="煤质差", town_id=caiyuan)
        cases.open_case(s, None, channel="hotline", category="price", description="加价")
        done = cases.open_case(s, None, channel="hotline", category="other", description="已办结")
        cases.close(s, None, done.id, finding="false", outcome="不属实")
    clock.freeze(datetime(2026, 12, 11, 2, 0, tzinfo=timezone.utc))
    yield
    clock.freeze(None)


@pytest.mark.parametrize(("username", "count"), [("drc", 2), ("finance", 2), ("auditor", 2), ("caiyuan", 1),
                                                 ("daimiao", 0)])
def test_each_role_that_sees_cases_has_its_overdue_ones_on_its_home_page(client_as, overdue, username, count):
    client = client_as(username)
    home = client.get("/").text
    assert _overdue_count(home) == count
    if count:
        assert 'class="tile urgent" href="/cases?overdue=1"' in home
        listed = client.get("/cases?overdue=1")
        assert listed.status_code == 200 and listed.text.count('badge err">逾期') == count


@pytest.mark.parametrize("username", ["coal-a", "dongguan", "admin"])
def test_roles_that_see_no_cases_have_no_such_tile(client_as, overdue, username):
    assert _overdue_count(client_as(username).get("/").text) is None
