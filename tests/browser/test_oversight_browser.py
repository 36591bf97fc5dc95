"""Oversight in a real browser, keyboard and mouse as people use it: a hotline call becomes the town's case, the town
handles and closes it, the bureau runs the anomaly rules and confirms a shared_phone flag, which opens a case, and
the public page shows a failed batch. (A callback's discrepancy becoming a case comes with the callbacks.)"""

from __future__ import annotations

import re

import pytest

from subsidy.core import db
from tests.browser.screenshots import shot
from tests.factories import oversight as o
from tests.factories.supply import add_batch

pytestmark = pytest.mark.browser


def test_a_hotline_call_and_a_confirmed_flag_become_cases_and_the_public_page_shows_a_failed_batch(
        page, open_page, login, engine):
    with db.transaction(engine) as s:
        shared = sorted(h.id for h in o.households(s, 3, phone="13966665555"))
        add_batch(s, "coal-b", report_no="JC-FAIL-OVERSIGHT", sulfur_pct="2.50")

    # The bureau takes a hotline call and hands it to the town.
    login(page, "drc")
    page.goto("/cases/new")
    page.select_option("#f-channel", "hotline")
    page.select_option("#f-category", "short_weight")
    page.fill("#f-description", "住户来电：送煤少了两百斤")
    page.select_option("#f-town_id", label="岱庙街道")
    with page.expect_navigation():
        page.click("form[action='/cases/'] button[type=submit]")
    assert "已登记案件" in page.locator(".alert-ok").inner_text()
    case_url = page.url.split("?")[0]
    number = re.search(r"TS-\w+-\d{4}", page.locator("h1").inner_text()).group()
    assert "岱庙街道" in page.locator("table.kv tr", has_text="承办单位").inner_text()

    # The town accepts and closes it.
    town = open_page()
    login(town, "daimiao")
    town.goto("/cases?status=open")
    with town.expect_navigation():
        town.click(f"text={number}")
    with town.expect_navigation():
        town.click("form[action$='/accept'] button")
    assert "办理中" in town.locator("h1").inner_text()
    town.select_option("#f-finding", "true")
    town.fill("#f-outcome", "企业补送两百斤，已回访")
    town.press("#f-outcome", "Enter")  # the keyboard submits the form
    town.wait_for_url(re.compile(r".*notice=.*"))
    assert "已办结" in town.locator("h1").inner_text()
    page.goto(case_url)
    assert "已办结" in page.locator("h1").inner_text() and "企业补送两百斤" in page.content()

    # The bureau runs the rules and confirms the shared phone.
    page.goto("/anomalies")
    with page.expect_navigation():
        page.click("form[action='/anomalies/run'] button")
    assert "已运行异常预警" in page.locator(".alert-ok").inner_text()
    page.select_option("#q-rule", "shared_phone")
    page.select_option("#q-status", "open")
    with page.expect_navigation():
        page.click("form.toolbar button[type=submit]")
    row = page.locator("table.list tbody tr", has_text="手机号尾号5555")
    assert row.count() == 1 and "13966665555" not in page.content()
    shot(page, "anomalies-list")
    with page.expect_navigation():
        row.locator("a").first.click()
    for household_id in shared:
        assert page.locator(f"a[href='/households/{household_id}']").count() == 1
    assert "13966665555" not in page.content()
    shot(page, "anomaly-flag")
    page.fill("#f-confirm-comment", "电话核实为同一代办人")
    with page.expect_navigation():
        page.click("form[action$='/confirm'] button")
    assert "已确认异常预警" in page.locator(".alert-ok").inner_text()
    assert "系统预警" in page.locator("table.kv").inner_text()
    assert page.locator(f"table.kv a[href='/households/{shared[0]}']").count() == 1

    # Anyone reads the failed batch on the public page.
    page.goto("/public")
    failed = page.locator("#batches tr.failed", has_text="JC-FAIL-OVERSIGHT")
    assert failed.count() == 1 and "不合格" in failed.inner_text()
