"""The grouped menu at 1366×768: one line for the roles with the most items, drop-downs opened by keyboard."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("username", ["admin", "drc"])
def test_the_menu_fits_one_line_at_1366(page, username):
    login(page, username)
    assert page.viewport_size == {"width": 1366, "height": 768}
    tops = page.eval_on_selector_all(".mainnav > a, .menu-group > summary",
                                     "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(tops) >= 5 and len(set(tops)) == 1, tops  # all on one line
    bar = page.eval_on_selector(".topbar", "e => [e.getBoundingClientRect().height, e.scrollWidth, e.clientWidth]")
    assert bar[0] <= 50 and bar[1] <= bar[2], bar  # one row, nothing overflowing sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_a_drop_down_opens_by_keyboard_and_its_item_is_reached_by_tab(page):
    login(page, "drc")
    group = page.locator("details.menu-group", has=page.locator("summary", has_text="结算"))
    link = group.locator("a", has_text="月度汇总")
    assert not link.is_visible()
    group.locator("summary").focus()
    page.keyboard.press("Enter")
    assert group.get_attribute("open") is not None and link.is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "月度汇总"
    page.keyboard.press("Escape")  # closes, focus back on the title
    assert group.get_attribute("open") is None
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Space")
    assert link.is_visible()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("/summaries")
    assert page.locator('.mainnav a[aria-current="page"]').all_text_contents() == ["月度汇总"]
