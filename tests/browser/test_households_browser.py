"""In a real browser: a village registers a household and its purchase, publishes the notice, and the town approves."""

from __future__ import annotations

import re

import pytest

from tests.factories.households import new_id_number

pytestmark = pytest.mark.browser


def login(browser, base, username):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-demo")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(\?.*)?$"))
    return page


def test_a_village_registers_publishes_and_the_town_approves_in_a_browser(live_server, browser):
    id_number = new_id_number()
    village = login(browser, live_server, "dongguan")
    village.goto(f"{live_server}/households/new")
    village.fill("#f-head_name", "周明亮")
    village.fill("#f-id_number", id_number)
    village.fill("#f-phone", "13905387777")
    village.fill("#f-address", "东关村7组7号")
    village.select_option("#f-category", "poverty_registered")
    village.click("form.card button[type=submit]")
    village.wait_for_url(re.compile(r".*/households/\d+\?saved=1"))
    assert id_number in village.content()
    village.fill("#coal_tons", "2")
    village.fill("#stoves", "1")
    village.click("text=登记购买")
    village.wait_for_selector("text=已登记")

    village.goto(f"{live_server}/registrations")
    village.fill("#objection_contact", "东关村委会")
    village.click("text=发布公示")
    village.wait_for_url(re.compile(r".*/registrations/notices/\d+"))
    content = village.content()
    assert "周明亮" in content and id_number not in content and "东关村委会" in content

    town = login(browser, live_server, "caiyuan")
    town.goto(f"{live_server}/registrations?status=noticed")
    row = town.locator("tr", has_text="周明亮")
    row.locator("button", has_text="通过").click()
    town.wait_for_selector("text=已审核通过。")
    village.goto(f"{live_server}/households")
    village.click("text=周明亮 >> xpath=../..//a[text()='查看']")
    assert "已审核" in village.content()
