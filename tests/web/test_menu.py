"""The menu offers each role exactly the pages its guards let it open: built from the same role sets, it can neither
show a link that answers 403 nor hide a page the role may use."""

from __future__ import annotations

import re

import pytest

from subsidy.models import Role
from web.templating import MENU_GROUPS, NAV, offers

# One demo persona per role.
PERSONAS = {Role.VILLAGE: "dongguan", Role.TOWN: "caiyuan", Role.SUPPLIER: "coal-a", Role.DRC: "drc",
            Role.FINANCE: "finance", Role.AUDITOR: "auditor", Role.ADMIN: "admin"}


def _guard_roles(app, path: str) -> frozenset[Role]:
    """The roles let in by every guard on the GET handler of `path` (its own, its controller's and the app's)."""
    handlers = [h for route in app.routes if route.path == path for h in route.route_handlers if "GET" in h.http_methods]
    assert len(handlers) == 1, path
    allowed = frozenset(Role)
    for guard in handlers[0].resolve_guards():
        allowed &= getattr(guard, "func", guard).roles
    return allowed


def test_each_menu_item_is_offered_to_the_roles_its_page_guard_lets_in(app):
    for label, path, roles in NAV:
        assert frozenset(roles) == _guard_roles(app, path), label


def _nav(page_text: str) -> str:
    return re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', page_text, re.S).group(1)


def _menu(page_text: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', _nav(page_text))


def _highlighted(page_text: str) -> list[str]:
    return re.findall(r'href="([^"]+)" aria-current="page"', _nav(page_text))


def test_every_item_but_home_is_in_exactly_one_group_in_menu_order():
    grouped = [path for _, paths in MENU_GROUPS for path in paths]
    assert sorted(grouped) == sorted(path for _, path, _ in NAV if path != "/")
    assert ["/"] + grouped == [path for _, path, _ in NAV]  # the groups keep the menu's order


def test_the_menu_is_grouped_by_task(client_as):
    text = client_as("admin").get("/").text
    groups = re.findall(r"<summary>(.*?)</summary>", _nav(text))
    assert groups == ["登记", "销售", "结算", "报表", "系统"]  # the administrator handles no cases
    assert "监督" in re.findall(r"<summary>(.*?)</summary>", _nav(client_as("drc").get("/").text))
    seller = client_as("coal-a").get("/").text
    assert re.findall(r"<summary>(.*?)</summary>", _nav(seller)) == ["销售", "结算"]  # no empty group


def test_the_counter_highlights_only_its_own_item_and_a_slip_highlights_the_list(client_as):
    client = client_as("coal-a")
    assert _highlighted(client.get("/slips/new").text) == ["/slips/new"]
    assert _highlighted(client.get("/slips").text) == ["/slips"]
    assert _highlighted(client.get("/").text) == ["/"]
    assert _highlighted(client.get("/password").text) == []


def test_the_header_says_who_once(client_as):
    text = client_as("dongguan").get("/").text
    assert re.findall(r'<span class="whoami">(.*?)</span>', text) == ["王文书 · 东关村（村/社区）"]


@pytest.mark.parametrize("role", list(Role))
def test_every_page_a_role_is_offered_opens_and_every_page_it_is_not_offered_is_refused(client_as, role):
    client = client_as(PERSONAS[role])
    offered = _menu(client.get("/").text)
    assert offered == [path for _, path, roles in NAV if role in roles]
    for _, path, _ in NAV:
        response = client.get(path, follow_redirects=False)
        if path in offered:
            assert response.status_code == 200, (role, path, response.text[:300])
            assert _highlighted(response.text) == [path], (role, path)  # exactly one item, its own
        else:
            assert response.status_code in (403, 302, 303), (role, path, response.status_code)


def test_a_link_to_a_menu_page_is_offered_exactly_to_the_roles_the_menu_offers_it():
    assert offers(Role.DRC, "/reports/acceptance") and offers(Role.AUDITOR, "/reports/acceptance")
    assert not offers(Role.ADMIN, "/reports/acceptance") and not offers(Role.TOWN, "/reports/acceptance")
    assert offers(Role.TOWN, "/reports/dispatch") and not offers(Role.ADMIN, "/reports/dispatch")
    assert not offers(Role.DRC, "/not-a-menu-page")
    for _, path, roles in NAV:
        assert {r for r in Role if offers(r, path)} == set(roles), path


def test_the_administrator_is_not_offered_the_acceptance_report_it_cannot_open(client_as):
    admin = client_as("admin")
    assert admin.get("/reports/acceptance").status_code == 403
    for page in ("/seasons", "/reports/progress"):
        text = admin.get(page).text
        assert "/reports/acceptance" not in text and "/reports/dispatch" not in text, page
    bureau = client_as("drc")
    assert "/reports/acceptance?season_id=" in bureau.get("/seasons").text
    assert 'href="/reports/acceptance"' in bureau.get("/reports/progress").text
