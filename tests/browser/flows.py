"""Steps of the registry workflow as a person does them in the browser, shared by the scenarios that need a household
with an approved registration (the registry test itself, the slip test).

The demo season has `notice_days` 0: a notice published today ends today, so the town may approve at once (no clock
to move: the live server reads the same clock as the services).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.browser.conftest import login


@dataclass
class NewHousehold:
    head_name: str
    id_number: str
    phone: str = "13905387777"
    address: str = "东关村7组7号"
    category: str = "poverty_registered"
    coal_tons: str = "2"
    stoves: str = "1"


def register_household(village, household: NewHousehold) -> int:
    """The village clerk (already logged in on `village`) enters the household and registers its purchase; returns
    the household's id. Leaves the page on the household."""
    village.goto("/households/new")
    village.fill("#f-head_name", household.head_name)
    village.fill("#f-id_number", household.id_number)
    village.fill("#f-phone", household.phone)
    village.fill("#f-address", household.address)
    village.select_option("#f-category", household.category)
    with village.expect_navigation(url=re.compile(r".*/households/\d+\?saved=1")):
        village.click("form.card button[type=submit]")
    household_id = int(re.search(r"/households/(\d+)", village.url).group(1))
    village.fill("#coal_tons", household.coal_tons)
    village.fill("#stoves", household.stoves)
    with village.expect_navigation(url=re.compile(rf".*/households/{household_id}\?saved=1")):
        village.click("text=登记购买")
    village.wait_for_selector("text=已登记")
    return household_id


def publish_notice(village, objection_contact: str = "东关村委会") -> None:
    """The village publishes the notice of its registered purchases; leaves the page on the notice."""
    village.goto("/registrations")
    village.fill("#objection_contact", objection_contact)
    with village.expect_navigation(url=re.compile(r".*/registrations/notices/\d+")):
        village.click("text=发布公示")


def approve_registration(town, head_name: str) -> None:
    """The town (already logged in on `town`) approves that household's noticed registration."""
    town.goto("/registrations?status=noticed")
    row = town.locator("tr", has_text=head_name)
    with town.expect_navigation():
        row.locator("button", has_text="通过").click()
    town.wait_for_selector("text=已审核通过。")


def register_approved_household(village, town, household: NewHousehold, *, village_user: str = "dongguan",
                                town_user: str = "caiyuan") -> int:
    """The whole way to an approved registration: register, publish the notice, the town approves. Logs
    `village_user` in on `village` and `town_user` on `town`; returns the household's id."""
    login(village, village_user)
    household_id = register_household(village, household)
    publish_notice(village)
    login(town, town_user)
    approve_registration(town, household.head_name)
    return household_id
