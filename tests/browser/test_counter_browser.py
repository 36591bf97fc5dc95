"""The sales counter at 1366×768 in a real browser: Enter in the ID field always looks the number up (a scanner
ends with Enter), so the next buyer's number never confirms the last buyer's preview; each reason a household cannot
buy is said in Chinese; the whole sale is done without scrolling, 确认开具 the first tab stop after the preview."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Household, Notice, Registration, Slip, Town, Village
from subsidy.rules.idnumbers import make_id_number
from tests.browser.conftest import login
from tests.browser.screenshots import shot

pytestmark = pytest.mark.browser

VIEWPORT_HEIGHT = 768


def buyers(engine, count: int, *, stoves: int = 0) -> list[tuple[int, str, str]]:
    """`count` demo households of the towns coal-a and stove-a serve, with an approved registration, coal left and
    at least `stoves`: (registration id, ID number, head name)."""
    with db.transaction(engine) as s:
        rows = s.execute(
            select(Registration.id, Household.id_number, Household.head_name)
            .join(Household, Household.id == Registration.household_id)
            .join(Village, Village.id == Household.village_id).join(Town, Town.id == Village.town_id)
            .where(Town.code.in_(("caiyuan", "daimiao", "taiqian")), Village.zone == "normal",
                   Registration.status == "approved", Registration.sold_coal_kg == 0, Registration.coal_kg >= 1000,
                   Registration.stoves >= stoves)
            .order_by(Registration.id).limit(count)).all()
    assert len(rows) == count
    return [tuple(row) for row in rows]


def slips_of(engine, registration_id: int) -> list[str]:
    with db.transaction(engine) as s:
        return list(s.execute(select(Slip.number).where(Slip.registration_id == registration_id)).scalars())


def look_up_by_enter(counter, id_number: str) -> None:
    """Type (or scan) the number into the ID field and press Enter, as a scanner does."""
    field = counter.locator("#f-id_number")
    field.click()
    field.fill("")
    field.type(id_number)
    with counter.expect_navigation():
        field.press("Enter")


def focused_name(counter) -> str:
    return counter.evaluate("document.activeElement && document.activeElement.name || ''")


def in_viewport(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_HEIGHT


def test_the_next_buyers_number_and_enter_after_a_preview_looks_up_the_new_buyer_and_issues_nothing(page, engine):
    (first_rid, first_id, first_name), (second_rid, second_id, second_name) = buyers(engine, 2)
    counter = page
    login(counter, "coal-a")
    counter.goto("/slips/new")
    look_up_by_enter(counter, first_id)
    assert first_name in counter.locator(".counter-buyer").inner_text()
    assert focused_name(counter) == "quantity_0"  # the clerk types the quantity next
    counter.keyboard.type("1")
    with counter.expect_navigation():
        counter.keyboard.press("Enter")  # Enter in a line previews
    assert counter.locator("button[data-confirm]").is_visible()

    # The next buyer's card is scanned into the ID field: typing alone removes the lines and the preview...
    field = counter.locator("#f-id_number")
    field.click()
    field.fill("")
    field.type(second_id[:6])
    assert counter.locator("[data-sale]").count() == 0 and counter.locator("button[data-confirm]").count() == 0
    field.type(second_id[6:])
    with counter.expect_navigation():
        field.press("Enter")  # ... and the scanner's Enter looks the new buyer up
    buyer = counter.locator(".counter-buyer").inner_text()
    assert second_name in buyer and first_name not in buyer
    assert counter.locator("button[data-confirm]").count() == 0 and counter.locator("input[name=quantity_0]").input_value() == ""
    assert slips_of(engine, first_rid) == [] and slips_of(engine, second_rid) == []


def _set_states(engine) -> dict[str, str]:
    """Households of coal-a's towns in each state the lookup names, and one outside them: reason → ID number."""
    ends = clock.today() + timedelta(days=3)
    with db.transaction(engine) as s:
        rows = s.execute(select(Registration, Household).join(Household, Household.id == Registration.household_id)
                         .join(Village, Village.id == Household.village_id).join(Town, Town.id == Village.town_id)
                         .where(Town.code.in_(("caiyuan", "daimiao")), Registration.status == "approved")
                         .order_by(Registration.id)).all()
        (noticed, h1), (registered, h2), (rejected, h3), (bought, h4) = rows[:4]
        notice = Notice(village_id=noticed.village_id, season_id=noticed.season_id, published_on=clock.today(),
                        ends_on=ends)
        s.add(notice)
        s.flush()
        noticed.status, noticed.notice_id = "noticed", notice.id
        registered.status = "registered"
        rejected.status, rejected.reject_reason = "rejected", "住房已拆迁"
        bought.sold_coal_kg = bought.coal_kg
        unregistered = s.execute(select(Household.id_number).join(Village, Village.id == Household.village_id)
                                 .where(Village.zone == "ban")).scalars().first()
        elsewhere = s.execute(select(Household.id_number).join(Village, Village.id == Household.village_id)
                              .where(Village.code == "shanggao-cun")).scalars().first()
    return {"in_notice": h1.id_number, "not_approved": h2.id_number, "rejected": h3.id_number,
            "bought_all": h4.id_number, "not_registered": unregistered, "not_found": elsewhere,
            "_ends": f"{ends.month}月{ends.day}日"}


def test_every_reason_a_household_cannot_buy_is_said_in_chinese_with_what_to_do(page, engine):
    ids = _set_states(engine)
    ends = ids.pop("_ends")
    expected = {
        "in_notice": f"公示期至 {ends}，期满经街道审核后可购买",
        "not_approved": "尚未公示和审核",
        "rejected": "未通过街道审核（原因：住房已拆迁）",
        "bought_all": "已全部购买",
        "not_registered": "尚未登记购买：请户主到所在村（社区）登记",
        "not_found": "在本企业配送的街道/镇内没有找到该身份证号的住户",
    }
    ids["not_found (nobody's number)"] = make_id_number("370911", date(1931, 1, 1), "996")
    expected["not_found (nobody's number)"] = expected["not_found"]
    counter = page
    login(counter, "coal-a")
    counter.goto("/slips/new")
    for reason, id_number in ids.items():
        look_up_by_enter(counter, id_number)
        box = counter.locator(".lookup-reason")
        assert box.get_attribute("data-reason") == reason.split(" ")[0], reason
        assert expected[reason] in box.inner_text(), (reason, box.inner_text())
        assert counter.locator("[data-sale]").count() == 0
        assert focused_name(counter) == "id_number"  # the clerk scans the next card
        if reason == "in_notice":
            shot(counter, "counter-in-notice")


def test_the_whole_sale_is_done_without_scrolling_and_confirm_is_the_first_tab_stop_after_the_preview(
        page, open_page, engine):
    (rid, id_number, name), = buyers(engine, 1, stoves=1)
    counter = page
    login(counter, "coal-a")
    counter.goto("/slips/new")
    look_up_by_enter(counter, id_number)
    # One line, the supplier's one product chosen; no serial column for a coal seller.
    assert counter.locator("select[name^=product_]").count() == 1
    assert counter.locator("select[name=product_0]").input_value() == "briquette"
    headers = counter.locator(".sale-lines thead").inner_text()
    assert "进货批次" in headers and "炉具编号" not in headers and counter.locator("input[name=serial_0]").count() == 0
    shot(counter, "counter-lines")
    # 添加一行 when needed.
    with counter.expect_navigation():
        counter.click("button:text-is('添加一行')")
    assert counter.locator("select[name^=product_]").count() == 2
    assert counter.locator("button[data-confirm]").count() == 0  # nothing to confirm before a preview
    counter.fill("input[name=quantity_0]", "0.5")
    counter.fill("input[name=quantity_1]", "0.5")
    with counter.expect_navigation():
        counter.click("button[data-preview]")
    confirm = counter.locator("button[data-confirm]")
    assert "primary" in confirm.get_attribute("class")
    assert in_viewport(confirm) and in_viewport(counter.locator(".counter-preview tfoot"))
    assert counter.evaluate("window.scrollY") == 0
    assert counter.evaluate("document.documentElement.scrollHeight") <= VIEWPORT_HEIGHT
    shot(counter, "counter-preview")
    counter.keyboard.press("Tab")
    assert counter.evaluate("document.activeElement.dataset.confirm !== undefined")
    with counter.expect_navigation(url=re.compile(r".*/slips/[^/?]+\?issued=1$")):
        counter.keyboard.press("Enter")
    assert len(slips_of(engine, rid)) == 1

    # A stove seller's counter: the serial column and no batch column; the focus where its clerk types.
    stoves = open_page()
    login(stoves, "stove-a")
    stoves.goto("/slips/new")
    look_up_by_enter(stoves, id_number)
    headers = stoves.locator(".sale-lines thead").inner_text()
    assert "炉具编号" in headers and "进货批次" not in headers and stoves.locator("select[name=batch_0]").count() == 0
    assert stoves.locator("select[name=product_0]").input_value() == "stove"
    assert focused_name(stoves) == "serial_0"
    shot(stoves, "counter-stove")
