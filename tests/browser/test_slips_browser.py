"""In a real browser: the household the registry test registers (周明亮, 东关村, 2 t of coal and a stove) gets a coal
slip at the counter of the coal supplier with a contract in its town; the five copies print on both papers; the slip
is voided and its copies say so. The stove supplier then sells the stove, its serial on the slip."""

from __future__ import annotations

import re

import pytest

from subsidy.rules import barcodes
from subsidy.core import db
from subsidy.models import COPIES
from subsidy.rules.money import tons, yuan
from subsidy.rules.idnumbers import mask_id_number
from tests.browser.conftest import login
from tests.browser.flows import NewHousehold, register_approved_household
from tests.factories.registry import new_id_number
from subsidy.sales import slips

pytestmark = pytest.mark.browser

SUPPLIER = "coal-a"  # the demo's briquette supplier: contracts in 财源街道 (and the other target towns), coal only
SOLD_TONS = "1.5"


def _lookup(counter, id_number: str) -> None:
    counter.goto("/slips/new")
    counter.fill("#f-id_number", id_number)
    with counter.expect_navigation():
        counter.click("button[type=submit] >> text=查询登记")
    counter.wait_for_selector("h2:text-is('已审核的购买登记')")


def _registration_cell(counter, header: str) -> str:
    return counter.locator(f"th:text-is('{header}') + td").inner_text().strip()


def _slip_from_the_service(engine, number: str):
    session = db.new_session(engine)
    try:
        view = slips.view(session, slips.get_by_number(session, number))
        session.expunge_all()
        return view
    finally:
        session.close()


def _bars(svg) -> str:
    """The Code 128 modules drawn by the page's SVG ("1" bar, "0" space), read back from its rects."""
    rects = svg.locator("g rect").evaluate_all(
        "rects => rects.map(r => [r.x.baseVal.value, r.width.baseVal.value])")
    module = min(width for _, width in rects)
    start = rects[0][0]
    drawn = ["0"] * round((rects[-1][0] + rects[-1][1] - start) / module)
    for x, width in rects:
        for i in range(round((x - start) / module), round((x + width - start) / module)):
            drawn[i] = "1"
    return "".join(drawn)


def _check_print_page(counter, view, *, paper: str) -> None:
    slip = view.slip
    copies = counter.locator("section.copy")
    assert copies.count() == 5
    for c, paper_copy in COPIES.items():
        name = paper_copy.name
        copy = counter.locator(f"section.copy[data-copy='{c}']")
        assert copy.locator(".copyname").inner_text().strip() == f"第{c}联 {name}"
        assert f"第{c}联 {name}（{paper_copy.colour}）" in copy.locator(".band").inner_text()
        assert f"band-{paper_copy.band}" in copy.locator(".band").get_attribute("class")  # the paper's colour
        assert copy.locator(".code > div").inner_text().strip() == f"{slip.number}-{c}"
        # The barcode is an inline SVG drawn on the server: it must be there, laid out with a size, and have bars.
        barcode = copy.locator(".code svg")
        box = barcode.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 10, box
        assert barcode.locator("g rect").count() > 10
        assert barcode.locator("text").text_content() == f"{slip.number}-{c}"
        assert _bars(barcode) == barcodes.barcode_modules(f"{slip.number}-{c}")
        text = copy.inner_text()
        # The supplier reads the number masked everywhere, its printed copies included (subsidy/core/scope.py).
        assert slip.head_name in text and mask_id_number(slip.id_number) in text and slip.id_number not in text
        total = copy.locator("tr", has_text="合计").inner_text()
        assert yuan(slip.amount_fen) in total and yuan(slip.subsidy_fen) in total
        assert f"用户实付：{yuan(slip.amount_fen - slip.subsidy_fen)}" in total
        for line in view.lines:
            row = copy.locator("tr", has_text=tons(line.quantity) + " 吨").inner_text()
            assert yuan(line.unit_price_fen) in row and yuan(line.amount_fen) in row and yuan(line.subsidy_fen) in row
    # Each paper has its own layout: a copy is a 126 mm part of the continuous form, or 54 mm of an A4 sheet.
    height_px = copies.first.evaluate("el => el.getBoundingClientRect().height")
    expected_mm = 54 if paper == "a4" else 126
    assert abs(height_px - expected_mm * 96 / 25.4) < 2, (paper, height_px)


def test_a_supplier_issues_prints_and_voids_a_slip_for_the_registered_household(page, open_page, engine):
    household = NewHousehold(head_name="周明亮", id_number=new_id_number(), coal_tons="2", stoves="1")
    register_approved_household(open_page(), open_page(), household)

    counter = page
    login(counter, SUPPLIER)
    _lookup(counter, household.id_number)
    found = counter.locator("section.card", has_text="已审核的购买登记").inner_text()
    masked = household.id_number[:6] + "********" + household.id_number[-4:]
    assert _registration_cell(counter, "身份证号") == masked
    assert household.id_number not in found and "周明亮" in found
    assert _registration_cell(counter, "电话") == "139****7777"
    assert _registration_cell(counter, "登记") == "洁净煤 2.000 吨，炉具 1 台"
    assert _registration_cell(counter, "已购") == "0.000 吨，0 台"
    assert _registration_cell(counter, "尚可购买") == "2.000 吨，1 台"
    # coal-a sells briquettes only: its contract in 财源街道 offers no stove line (a stove is another supplier's).
    offered = counter.locator("select[name=product_0] option").all_inner_texts()
    assert offered == ["—", "洁净型煤"]

    counter.select_option("select[name=product_0]", "briquette")
    counter.fill("input[name=quantity_0]", SOLD_TONS)
    with counter.expect_navigation():
        counter.click("button[name=step][value=preview]")
    preview = counter.locator(".counter-preview")
    assert preview.locator("tbody tr").count() == 1
    preview_total = preview.locator("tfoot").inner_text()
    # 1.5 t at the contract's 1,100.00 yuan/t; the season's 300 yuan/t subsidy.
    assert "1,650.00" in preview_total and "450.00" in preview_total and "用户支付 1,200.00" in preview_total

    with counter.expect_navigation(url=re.compile(r".*/slips/[^/?]+\?issued=1$")):
        counter.click("button[name=step][value=confirm]")
    number = re.search(r"/slips/([^/?]+)\?issued=1$", counter.url).group(1)
    assert "销售单已开具，请打印五联交付" in counter.content()
    view = _slip_from_the_service(engine, number)
    slip = view.slip
    assert slip.status == "issued" and slip.head_name == "周明亮" and slip.coal_kg == 1500 and slip.stoves == 0
    assert (slip.amount_fen, slip.subsidy_fen) == (165_000, 45_000)
    detail_total = counter.locator("tfoot").inner_text()
    assert yuan(slip.amount_fen) in detail_total and yuan(slip.subsidy_fen) in detail_total

    with counter.expect_navigation(url=re.compile(rf".*/slips/{number}/print$")):
        counter.click("text=打印五联（连续纸241mm）")
    _check_print_page(counter, view, paper="form")
    assert counter.locator(".void-mark").count() == 0
    with counter.expect_navigation(url=re.compile(rf".*/slips/{number}/print\?paper=a4$")):
        counter.click(".screen-bar a:text-is('五联同页（A4）')")
    _check_print_page(counter, view, paper="a4")

    _lookup(counter, household.id_number)  # the counter now shows what is left of the registration
    assert _registration_cell(counter, "已购") == "1.500 吨，0 台"
    assert _registration_cell(counter, "尚可购买") == "0.500 吨，1 台"

    counter.goto(f"/slips/{number}")
    with counter.expect_navigation(url=re.compile(rf".*/slips/{number}/void$")):
        counter.click(".toolbar a:text-is('作废')")
    counter.fill("#f-reason", "数量填错，重新开具")
    with counter.expect_navigation(url=re.compile(rf".*/slips/{number}$")):
        counter.click("button[type=submit] >> text=确认作废")
    assert "作废" in counter.locator(".badge").first.inner_text()
    assert "数量填错，重新开具" in counter.content()
    assert counter.locator(".toolbar a:text-is('作废')").count() == 0  # a voided slip cannot be voided again

    with counter.expect_navigation(url=re.compile(rf".*/slips/{number}/print$")):
        counter.click("text=打印五联（连续纸241mm）")
    marks = counter.locator("section.copy .void-mark")
    assert marks.count() == 5
    assert marks.all_inner_texts() == ["作废"] * 5
    assert _slip_from_the_service(engine, number).slip.status == "voided"

    _lookup(counter, household.id_number)  # the void gave the household its quantity back
    assert _registration_cell(counter, "尚可购买") == "2.000 吨，1 台"

    # The stove of the registration is sold by the stove supplier, with the stove's serial on the line.
    stoves = open_page()
    login(stoves, "stove-a")
    _lookup(stoves, household.id_number)
    assert stoves.locator("select[name=product_0] option").all_inner_texts() == ["—", "节能环保炉具"]
    stoves.select_option("select[name=product_0]", "stove")
    stoves.fill("input[name=quantity_0]", "1")
    stoves.fill("input[name=serial_0]", "LJ-2026-000123")
    with stoves.expect_navigation():
        stoves.click("button[name=step][value=preview]")
    assert "LJ-2026-000123" in stoves.locator(".counter-preview").inner_text()
    with stoves.expect_navigation(url=re.compile(r".*/slips/[^/?]+\?issued=1$")):
        stoves.click("button[name=step][value=confirm]")
    stove_number = re.search(r"/slips/([^/?]+)\?issued=1$", stoves.url).group(1)
    stove_slip = _slip_from_the_service(engine, stove_number)
    assert [(ln.product, ln.quantity, ln.serial) for ln in stove_slip.lines] == [("stove", 1, "LJ-2026-000123")]
    with stoves.expect_navigation(url=re.compile(rf".*/slips/{stove_number}/print$")):
        stoves.click("text=打印五联（连续纸241mm）")
    for c in COPIES:
        line = stoves.locator(f"section.copy[data-copy='{c}'] tr", has_text="LJ-2026-000123").inner_text()
        assert "1 台" in line and yuan(stove_slip.slip.amount_fen) in line and yuan(stove_slip.slip.subsidy_fen) in line
    _lookup(counter, household.id_number)
    assert _registration_cell(counter, "尚可购买") == "2.000 吨，0 台"
