"""The reports upward in a real browser at 1366×768: the dispatch table (调度表) chosen by period, its delivery columns
and its print, and the acceptance report (考核验收) with its new sections, closed by the bureau from the page. The
wide tables stay within the page (their card scrolls, the page does not), and the administrator is offered neither."""

from __future__ import annotations

import pytest

from subsidy.core import clock, db
from tests.browser.conftest import login
from tests.factories.settlement import approved_registrations, make_slip, supplier

pytestmark = pytest.mark.browser

# The page's width against the window's, and each wide table's right edge against its card's.
WIDTHS = """() => ({page: document.documentElement.scrollWidth, window: window.innerWidth,
  tables: [...document.querySelectorAll("main table.list")].map(t => {
    const card = t.closest(".card") || t.parentElement;
    return {table: t.className, scrolls: card.scrollWidth > card.clientWidth ? getComputedStyle(card).overflowX : "fits"};
  })})"""


def _sell(engine) -> None:
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for code in ("dongguan", "yingxi"):
            make_slip(s, supplier=seller, registration=approved_registrations(s, code)[0], issued_on=clock.today(),
                      coal_kg=1000)


def _no_page_overflow(page) -> None:
    widths = page.evaluate(WIDTHS)
    assert widths["page"] <= widths["window"], (page.url, widths)
    for table in widths["tables"]:
        assert table["scrolls"] in ("fits", "auto", "scroll"), (page.url, table)


def _cell(page, row_text: str, figure: str) -> str:
    row = page.locator("table.dispatch tbody tr", has_text=row_text).first
    return row.locator(f'td[data-figure="{figure}"]').inner_text().strip()


def test_the_dispatch_page_is_chosen_by_period_shows_the_deliveries_and_prints_the_same_table(page, engine):
    _sell(engine)
    login(page, "drc")
    page.goto("/reports/dispatch")
    page.select_option("#q-period", "month")
    with page.expect_navigation():
        page.click("form.toolbar button[type=submit]")
    assert "月调度表" in page.locator("h1").inner_text()
    headings = page.locator("table.dispatch thead").inner_text()
    assert "配送到户(张)" in headings and "未配送(张)" in headings
    assert _cell(page, "合计", "slips") == "2" and _cell(page, "合计", "undelivered") == "2"
    assert _cell(page, "合计", "delivered") == "0" and _cell(page, "合计", "coal_kg") == "2.000"
    # every row has a cell for every heading
    columns = page.evaluate("""() => [...document.querySelectorAll("table.dispatch tbody tr")]
        .map(tr => [...tr.children].reduce((n, td) => n + (td.colSpan || 1), 0))""")
    assert len(set(columns)) == 1, columns
    _no_page_overflow(page)
    with page.expect_navigation():
        page.click("text=打印")
    assert "/reports/dispatch/print" in page.url and "period=month" in page.url
    assert _cell(page, "合计", "undelivered") == "2" and "填报单位" in page.content()


def test_the_bureau_reads_the_draft_acceptance_report_and_closes_the_season_from_it(page, engine):
    _sell(engine)
    login(page, "drc")
    page.goto("/reports/acceptance")
    assert "草稿" in page.locator("h1").inner_text()
    for section in ("deliveries", "callbacks", "spot_checks"):
        assert page.locator(f'[data-section="{section}"]').count() == 1, section
    total = page.locator('[data-section="deliveries"] tbody tr', has_text="合计")
    assert total.locator('td[data-figure="undelivered"]').inner_text().strip() == "2"
    _no_page_overflow(page)
    page.check("input[name=confirm]")
    with page.expect_navigation():
        page.click("button.danger")
    assert "定稿" in page.locator("h1").inner_text()
    assert page.locator("button.danger").count() == 0
    page.goto("/seasons")
    assert "已关闭" in page.locator("table.seasons").inner_text()


def test_the_administrator_is_offered_no_report_it_cannot_open(page):
    login(page, "admin")
    page.goto("/reports/progress")
    links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert "/reports/acceptance" not in links and "/reports/dispatch" not in links
    page.goto("/seasons")
    assert page.locator('a[href^="/reports/acceptance"]').count() == 0
