"""The public page (信息公开) in a real browser on a phone (390×844): no login, the page never scrolls sideways
(wide tables scroll inside their own box), a failed batch is shown as failed, and the print style applies."""

from __future__ import annotations

import pytest

from subsidy.core import db
from tests.factories.supply import add_batch

pytestmark = pytest.mark.browser


def test_the_public_page_fits_a_phone_and_shows_a_failed_batch(browser, live_server, engine):
    with db.transaction(engine) as s:
        add_batch(s, "coal-b", report_no="JC-FAIL-20261201-LONG-REPORT-NUMBER", sulfur_pct="2.50")
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    blocked = []
    try:
        page = context.new_page()
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        answer = page.goto("/public")
        assert answer.status == 200 and page.url.endswith("/public")  # no detour by the login page
        assert page.locator("h1").inner_text() == "清洁煤及节能炉具补贴信息公开"
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                              " document.body.scrollWidth]")
        assert sizes[0] <= sizes[1] and sizes[2] <= sizes[1], sizes
        # The stylesheet loaded (CSP allows it): the batch table is wider than the phone and scrolls in its box.
        box = page.locator("#batches .scroll")
        assert box.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")
        row = page.locator("#batches tr.failed", has_text="JC-FAIL-20261201-LONG-REPORT-NUMBER")
        assert row.count() == 1 and "不合格" in row.locator("td.verdict").inner_text()
        page.emulate_media(media="print")
        assert box.evaluate("e => getComputedStyle(e).overflowX") == "visible"
        assert blocked == []
    finally:
        context.close()
