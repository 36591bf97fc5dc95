"""In a real browser: the supplier opens its delivery list, prints a village's A4 route sheet (screenshot
`delivery-route-sheet.png`), issues a slip at the counter to a household of the sheet, and records its delivery
with a photo of the signed copy on the slip's page (`delivery-recorded.png`); and a slip issued at the door from the
supplier's van, its delivery recorded with it in the same step (`delivery-at-the-door.png`), which the slip list then
shows as delivered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Household, Registration, Village
from tests.browser.conftest import login
from tests.browser.screenshots import shot
from tests.browser.test_counter_browser import look_up_by_enter

pytestmark = pytest.mark.browser

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _buyer(engine, *, last: bool = False):
    with db.transaction(engine) as s:
        village = s.execute(select(Village).where(Village.code == "dongguan")).scalar_one()
        row = s.execute(select(Registration.id, Household.id_number, Household.head_name)
                        .join(Household, Household.id == Registration.household_id)
                        .where(Registration.village_id == village.id, Registration.status == "approved",
                               Registration.sold_coal_kg == 0, Registration.coal_kg >= 1000)
                        .order_by(Registration.id.desc() if last else Registration.id)).first()
        return village.id, tuple(row)


def test_the_supplier_prints_a_route_sheet_issues_and_records_a_delivery_with_a_photo(page, engine, tmp_path):
    village_id, (_, id_number, head_name) = _buyer(engine)
    login(page, "coal-a")
    page.goto("/deliveries")
    page.select_option("#q-village", str(village_id))
    with page.expect_navigation():
        page.click("form.filter-bar button[type=submit]")
    assert head_name in page.locator("table[data-deliveries]").inner_text()
    with page.expect_navigation():
        page.click("text=打印本村配送路单（A4）")
    sheet = page.locator("[data-route-sheet]")
    assert "东关村" in sheet.locator("h1").inner_text() and head_name in sheet.inner_text()
    assert "户主（家庭成员）签字" in sheet.inner_text() and "*" in sheet.locator("tbody td >> nth=3").inner_text()
    shot(page, "delivery-route-sheet", full_page=True)

    page.goto("/slips/new")
    look_up_by_enter(page, id_number)
    page.keyboard.type("1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.expect_navigation():
        page.click("button[data-confirm]")
    assert "/slips/" in page.url and "未送达" in page.locator("[data-delivery]").inner_text()

    photo = tmp_path / "签收联.png"
    photo.write_bytes(PNG)
    assert page.input_value("#f-receiver") == head_name and page.input_value("#f-delivered_on") == \
        clock.today().isoformat()
    page.set_input_files("#f-photo", str(photo))
    with page.expect_navigation():
        page.click("text=登记送达")
    recorded = page.locator("[data-delivery]").inner_text()
    assert "已送达" in recorded and head_name in recorded and "开单后 0 天" in recorded
    assert page.locator("text=查看签收联扫描件").count() == 1
    shot(page, "delivery-recorded")


def test_the_supplier_issues_at_the_door_and_the_delivery_is_recorded_with_the_slip(page, engine):
    _, (_, id_number, head_name) = _buyer(engine, last=True)
    login(page, "coal-a")
    page.goto("/slips/new")
    look_up_by_enter(page, id_number)
    page.keyboard.type("1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    door = page.locator("[data-at-door]")
    assert "上门开单" in door.inner_text() and page.input_value("#f-receiver") == head_name
    # Delivered at the door but nobody named as the receiver: refused on the preview, nothing issued.
    door.locator("input[name=at_door]").check()
    page.fill("#f-receiver", "")
    with page.expect_navigation():
        page.click("button[data-confirm]")
    assert "/slips/new" in page.url and "签收人姓名" in page.locator(".field-error").inner_text()
    assert page.locator("button[data-confirm]").count() == 1
    # Another adult of the household signs for it: issued and delivered in one step.
    assert page.locator("[data-at-door] input[name=at_door]").is_checked()
    page.fill("#f-receiver", "王小红")
    with page.expect_navigation():
        page.click("button[data-confirm]")
    assert "/slips/" in page.url and "delivered=1" in page.url
    number = page.url.split("/slips/")[1].split("?")[0]
    recorded = page.locator("[data-delivery]").inner_text()
    assert "已送达" in recorded and "王小红" in recorded and "家庭成员" in recorded and "开单后 0 天" in recorded
    assert clock.today().isoformat() in recorded
    assert page.locator("text=登记送达").count() == 0  # nothing left to record
    shot(page, "delivery-at-the-door")
    page.goto(f"/slips?number={number}")
    cell = page.locator(f"[data-delivery-of='{number}']").inner_text()
    assert "已送达" in cell and "开单后 0 天" in cell
