"""Real logins in a real browser: every demo role reaches its home page; a new user must change the password."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

ROLES = {
    "admin": "系统管理员", "drc": "区发改局", "finance": "区财政局", "auditor": "审计",
    "coal-a": "配送企业", "caiyuan": "街道/镇", "dongguan": "村/社区",
}
NAV_SAMPLE = {"admin": "用户管理", "drc": "采暖季政策", "finance": "结算支付", "auditor": "审计日志",
              "coal-a": "开具销售单", "caiyuan": "登记审核", "dongguan": "住户登记"}


def test_each_demo_role_logs_in_through_the_form_and_sees_its_home_page(page):
    for username, role_label in ROLES.items():
        login(page, username)
        assert urlparse(page.url).path == "/"
        assert page.locator("h1").inner_text().startswith("您好")
        assert role_label in page.locator(".whoami").inner_text()  # "name · unit（role）", a bureau's unit its role
        assert page.locator(".mainnav a", has_text=NAV_SAMPLE[username]).count() == 1
        with page.expect_navigation():
            page.click(".who button[type=submit]")  # log out
        assert "/login" in page.url


def test_a_wrong_password_is_refused_on_the_page(page):
    login(page, "drc", "not-the-password-1")
    assert "/login" in page.url
    assert "用户名或密码错误" in page.locator(".alert-error").inner_text()
    assert page.input_value("#f-username") == "drc"


def test_the_admin_creates_a_user_who_is_forced_to_change_the_password(page, browser, live_server):
    login(page, "admin")
    page.click(".menu-group summary:has-text('系统')")  # the menu's drop-down first
    page.click("text=用户管理")
    page.click("text=新增用户")
    page.fill("#f-username", "clerk.ty")
    page.fill("#f-display_name", "台前办事员")
    page.select_option("#f-role", "town")
    assert page.locator("#f-village_id").is_hidden()  # only the scope of the chosen role is offered
    page.select_option("#f-town_id", label="泰前街道")
    with page.expect_navigation():
        page.click("text=创建用户")
    password = page.locator("#temp-password").inner_text().strip()
    assert len(password) >= 8

    other = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 768})
    try:
        clerk = other.new_page()
        login(clerk, "clerk.ty", password)
        assert clerk.url.endswith("/password")
        assert "临时密码" in clerk.locator(".alert-warn").inner_text()
        clerk.goto("/seasons")
        assert clerk.url.endswith("/password")  # nothing else until the password is changed
        clerk.fill("#f-old_password", password)
        clerk.fill("#f-new_password", "Chosen2027xyz")
        clerk.fill("#f-confirm_password", "Chosen2027xyz")
        with clerk.expect_navigation():
            clerk.click("text=保存新密码")
        assert "密码已修改" in clerk.content()
        assert "（街道/镇）" in clerk.locator(".who").inner_text()
    finally:
        other.close()


@pytest.mark.parametrize("username, path", [("caiyuan", "/admin/users"), ("dongguan", "/seasons"),
                                            ("coal-a", "/audit")])
def test_a_page_outside_the_role_says_so(page, username, path):
    login(page, username)
    response = page.goto(path)
    assert response.status in (403, 404)
    assert "无权" in page.content() or "不存在" in page.content()
