"""The header says who is signed in, once, on every page (issue 14, item 10): "王文书 · 东关村（村/社区）", the person's
name and the unit, for each role on its home page, on every page its menu offers, on a detail page and on a record
that is not there (a 404, or 403 for a role that may not open households); never the unit alone, never twice, and a bureau's unit (its role) not repeated."""

from __future__ import annotations

import re

import pytest

from subsidy.models import Role
from web.templating import NAV

WHOAMI = re.compile(r'<span class="whoami">(.*?)</span>')
HEADER = re.compile(r'<header class="topbar[^"]*">(.*?)</header>', re.S)

# (login, what the header says)
PEOPLE = {
    Role.VILLAGE: ("dongguan", "王文书 · 东关村（村/社区）"),
    Role.TOWN: ("caiyuan2", "张明远 · 财源街道（街道/镇）"),
    Role.SUPPLIER: ("coal-a", "刘志刚 · 泰安市甲洁净煤配送有限公司（配送企业）"),
    Role.DRC: ("drc", "孙海涛 · 区发改局"),
    Role.FINANCE: ("finance", "钱丽华 · 区财政局"),
    Role.AUDITOR: ("auditor", "吴建平 · 审计"),
    Role.ADMIN: ("admin", "周立新 · 系统管理员"),
}


@pytest.mark.parametrize("role", list(Role))
def test_every_page_of_every_role_names_the_person_and_the_unit_once(client_as, role):
    username, says = PEOPLE[role]
    client = client_as(username)
    name = says.split(" · ")[0]
    pages = ["/", *(path for _, path, roles in NAV if role in roles), "/password", "/households/99999999"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code in (200, 403, 404), (username, path, answer.status_code)
        assert WHOAMI.findall(answer.text) == [says], (username, path)
        [header] = HEADER.findall(answer.text)
        assert header.count(name) == 1, (username, path)  # the name once in the header, nowhere else in it
    assert len(pages) >= 4


def test_a_detail_page_says_who_the_same_way(client_as):
    client = client_as("dongguan")
    listing = client.get("/households").text
    household = re.search(r'href="(/households/\d+)"', listing).group(1)
    assert WHOAMI.findall(client.get(household).text) == [PEOPLE[Role.VILLAGE][1]]


@pytest.mark.parametrize("role", [Role.VILLAGE, Role.FINANCE])
def test_a_path_no_route_matches_keeps_the_header_and_the_menu(client_as, role):
    # The router answers such a path before any middleware runs; its 404 page still names the caller.
    username, says = PEOPLE[role]
    answer = client_as(username).get("/no-such-page/at-all")
    assert answer.status_code == 404 and "页面或记录不存在" in answer.text
    assert WHOAMI.findall(answer.text) == [says]
    assert '<nav class="mainnav">' in answer.text


def test_a_path_no_route_matches_names_nobody_without_a_valid_login(app):
    from tests.clients import PageClient

    for cookie in ({}, {"subsidy_session": "not-a-session"}):
        client = PageClient(app)
        client.cookies.update(cookie)
        answer = client.get("/no-such-page")
        assert answer.status_code == 404 and not WHOAMI.findall(answer.text)
        assert '<nav class="mainnav">' not in answer.text
    assert PageClient(app).get("/api/v1/no-such-thing").json()["status_code"] == 404
