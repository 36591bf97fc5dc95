"""Scope on pages: each role's pages show only its own part of the district, and pages of other roles are refused."""

from __future__ import annotations

import re

import pytest

SCOPES = {"caiyuan": "财源街道", "dongguan": "东关", "coal-a": "泰安市甲洁净煤配送有限公司", "drc": "全区", "admin": "全区"}


@pytest.mark.parametrize("username, others", [
    ("caiyuan", ["岱庙街道", "泰前街道"]),
    ("taiqian", ["财源街道", "岱庙街道"]),
])
def test_a_town_user_home_page_names_its_own_town_only(client_as, username, others):
    page = client_as(username).get("/")
    assert page.status_code == 200
    header = re.search(r'<p class="muted">(.*?)</p>', page.text, re.S).group(1)
    assert all(other not in header for other in others)


def test_each_role_home_page_names_its_scope(client_as):
    for username, label in SCOPES.items():
        header = re.search(r'<p class="muted">(.*?)</p>', client_as(username).get("/").text, re.S).group(1)
        assert label in header, username


@pytest.mark.parametrize("username", ["caiyuan", "dongguan", "coal-a"])
def test_office_pages_of_the_district_are_refused_to_town_village_and_supplier_users(client_as, username):
    client = client_as(username)
    for path in ("/admin/users", "/admin/regions", "/audit", "/audit/verify", "/seasons", "/seasons/1",
                 "/seasons/1/targets", "/admin/users/new"):
        assert client.get(path).status_code == 403, path
    assert client.submit("/admin/users/1/disable").status_code == 403
    assert client.submit("/admin/regions/villages/1/zone", {"zone": "ban"}).status_code == 403
    assert client.submit("/seasons/1/activate").status_code == 403


def test_the_navigation_offers_each_role_only_its_own_pages(client_as):
    nav = lambda username: set(re.findall(r'<nav class="mainnav">(.*?)</nav>', client_as(username).get("/").text,
                                          re.S)[0].split("href=")[1:])
    village = " ".join(nav("dongguan"))
    admin = " ".join(nav("admin"))
    assert "/admin/users" not in village and "/seasons" not in village and "/audit" not in village
    assert "/admin/users" in admin and "/audit" in admin and "/slips/new" not in admin


def test_a_browser_still_logged_in_as_one_user_can_log_in_as_another(client_as):
    # The login handler's session is scoped to whoever is logged in; the user lookup must look past that scope.
    client = client_as("dongguan")
    response = client.submit("/login", {"username": "drc", "password": "drc-demo"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert '<span class="whoami">孙海涛 · 区发改局</span>' in client.get("/").text


def test_an_api_caller_holding_a_token_can_ask_a_token_for_another_user(api_as):
    client = api_as("coal-a")
    response = client.post("/api/v1/auth/token", json={"username": "drc", "password": "drc-demo"})
    assert response.status_code == 200 and response.json()["token"]
