"""In a real browser: a village registers a household and its purchase, publishes the notice, and the town approves."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.browser.flows import NewHousehold, approve_registration, publish_notice, register_household
from tests.factories.registry import new_id_number

pytestmark = pytest.mark.browser


def test_a_village_registers_publishes_and_the_town_approves_in_a_browser(page, open_page):
    household = NewHousehold(head_name="周明亮", id_number=new_id_number())
    village, town = page, open_page()

    login(village, "dongguan")
    household_id = register_household(village, household)
    assert household.id_number in village.content()

    publish_notice(village, "东关村委会")
    content = village.content()
    assert "周明亮" in content and household.id_number not in content and "东关村委会" in content

    login(town, "caiyuan")
    approve_registration(town, "周明亮")

    village.goto("/households")
    row = village.locator("table.list tbody tr", has_text=household.address)
    assert "周明亮" in row.inner_text()
    with village.expect_navigation():
        row.locator("a", has_text="查看").click()
    assert village.url.endswith(f"/households/{household_id}")
    assert household.id_number in village.content()
    registration = village.locator("table.list tbody tr", has_text="当前采暖季")
    assert registration.locator(".badge").inner_text() == "已审核"
