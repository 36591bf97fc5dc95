"""A supplier records batches in a real browser: one passes, one fails and is refused for sale."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def _record(page, sulfur: str, report_no: str) -> None:
    page.goto("/batches/new")
    page.select_option("#f-product", "briquette")
    page.fill("#f-quantity_kg", "30000")
    page.fill("#f-origin", "山西晋城")
    page.fill("#f-report_no", report_no)
    page.fill("#f-lab", "泰安市产品质量检验所")
    page.fill("#f-volatile_pct", "9.5")
    page.fill("#f-sulfur_pct", sulfur)
    page.fill("#f-ash_pct", "17.2")
    page.fill("#f-calorific_mj_kg", "24.8")
    page.click("button[type=submit] >> text=登记并判定")
    page.wait_for_load_state()


def test_a_supplier_records_a_passing_and_a_failing_batch(page):
    login(page, "coal-a")

    _record(page, "0.40", "JC-BROWSER-1")
    assert page.locator("[data-result=passed]").is_visible()
    assert "可以销售" in page.content()

    _record(page, "0.80", "JC-BROWSER-2")
    assert page.locator("[data-result=failed]").is_visible()
    alert = page.locator(".alert-error").inner_text()
    assert "不能销售" in alert and "全硫 St,d 0.80% 超过上限 0.50%" in alert

    page.goto("/batches")
    rows = page.locator("table.list tbody tr")
    assert "不合格" in rows.nth(0).inner_text() and "合格" in rows.nth(1).inner_text()
