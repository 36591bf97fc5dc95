"""In a real browser at 1366×768: after each kind of change to a household (registered, edited, purchase registered,
notice published, approved, a slip sold and voided) its 变更记录 says in a Chinese sentence who did what; the
auditor's log reads the same way, no page is wider than the window however long an entry, and the raw entry opens
on demand. Screenshots of the log and the history for reviewers (tests/browser/screenshots.py: with
SUBSIDY_SCREENSHOTS=docs/screenshots)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import login
from tests.browser.flows import NewHousehold, approve_registration, publish_notice, register_household
from tests.browser.screenshots import shot
from tests.factories.registry import new_id_number

pytestmark = pytest.mark.browser

WINDOW = 1366
LONG_ADDRESS = "东关村" + "幸福大街与和平路交叉口向东三百米路北" * 9 + "7号"  # 170 characters, no space to break at


def history(page, household_id: int) -> str:
    page.goto(f"/households/{household_id}")
    return page.locator("#history").inner_text()


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def api(live_server: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=live_server, timeout=15)
    token = client.post("/api/v1/auth/token", json={"username": username, "password": f"{username}-demo"})
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return client


def test_every_kind_of_change_reads_as_a_sentence_in_the_history_and_the_log(page, open_page, live_server):
    household = NewHousehold(head_name="韩立", id_number=new_id_number())
    village, town = page, open_page()
    login(village, "dongguan")
    household_id = register_household(village, household)
    seen = history(village, household_id)
    assert "王文书（东关村）登记了住户韩立（东关村，建档立卡）" in seen
    assert "王文书（东关村）为住户韩立登记了本采暖季的购买：洁净煤2.000吨，炉具1台" in seen

    village.goto(f"/households/{household_id}/edit")
    village.fill("#f-phone", "13905386666")
    village.fill("#f-address", LONG_ADDRESS)
    with village.expect_navigation():
        village.click("form.card button[type=submit]")
    seen = history(village, household_id)
    assert "王文书（东关村）修改了住户韩立的信息：联系电话由“139****7777”改为“139****6666”；住址由" in seen
    assert "13905386666" not in seen
    assert page_width(village) <= WINDOW

    publish_notice(village)
    assert "王文书（东关村）发布了东关村的公示" in history(village, household_id)

    login(town, "caiyuan2")
    approve_registration(town, "韩立")
    assert "张明远（财源街道）审核通过了住户韩立的购买登记" in history(village, household_id)

    seller = api(live_server, "coal-a2")
    found = seller.post("/api/v1/registrations/lookup", json={"id_number": household.id_number}).json()
    sold = seller.post("/api/v1/slips", json={"registration_id": found["registration_id"],
                                              "id_number": household.id_number,
                                              "lines": [{"product": "briquette", "quantity": 1000}]})
    assert sold.status_code == 201, sold.text
    number = sold.json()["number"]
    seen = history(village, household_id)
    assert f"何玉梅（泰安市甲洁净煤配送有限公司）开具了销售单{number}：韩立，金额1,100.00元，补贴300.00元" in seen
    assert seller.post(f"/api/v1/slips/{number}/void", json={"reason": "数量开错"}).status_code == 200
    assert f"何玉梅（泰安市甲洁净煤配送有限公司）作废了销售单{number}，原因：数量开错" in history(village, household_id)
    assert "household." not in history(village, household_id)

    auditor = open_page()
    login(auditor, "auditor")
    auditor.goto("/audit?entity=household")
    assert auditor.locator("#f-entity option:checked").inner_text() == "住户"
    row = auditor.locator("tr[data-action='household.edited']").first
    assert "修改了住户韩立的信息" in row.inner_text()
    assert not row.locator("details.raw pre").first.is_visible()
    row.locator("details.raw summary").click()
    assert '"phone": "139****6666"' in row.locator("details.raw pre").last.inner_text()
    assert page_width(auditor) <= WINDOW
    auditor.goto("/audit?who=王文书")
    auditor.locator("tr[data-action='household.edited'] details.raw summary").click()
    assert page_width(auditor) <= WINDOW
    auditor.evaluate("window.scrollTo(0, 0)")
    shot(auditor, "audit-log")
    village.goto(f"/households/{household_id}")
    assert page_width(village) <= WINDOW
    village.locator("#history").scroll_into_view_if_needed()
    shot(village, "household-history")
