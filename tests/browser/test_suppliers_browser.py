"""A supplier records batches in a real browser: one passes, one fails and is refused for sale."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def live_url(app, demo, backend):
    if backend != "sqlite":
        pytest.skip("the browser journey runs once, on SQLite")
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser, live_url):
    # The session's one chromium (tests/browser/conftest.py): a second sync Playwright cannot run beside it.
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=live_url)
    yield context.new_page()
    context.close()


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
    page.goto("/login")
    page.fill("input[name=username]", "coal-a")
    page.fill("input[name=password]", "coal-a-demo")
    page.click("button[type=submit]")
    page.wait_for_load_state()

    _record(page, "0.40", "JC-BROWSER-1")
    assert page.locator("[data-result=passed]").is_visible()
    assert "可以销售" in page.content()

    _record(page, "0.80", "JC-BROWSER-2")
    assert page.locator("[data-result=failed]").is_visible()
    alert = page.locator(".alert-error").inner_text()
    assert "不能销售" in alert and "全硫 0.80% 超过上限 0.50%" in alert

    page.goto("/batches")
    rows = page.locator("table.list tbody tr")
    assert "不合格" in rows.nth(0).inner_text() and "合格" in rows.nth(1).inner_text()
