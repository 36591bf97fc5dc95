"""In a real browser, a callback's discrepancy as an anomaly flag: the bureau records a callback in which the
household says it received less than its slip, follows it to the case it opened, runs the anomaly rules, finds the
`callback_discrepancy` flag linking that case, and confirms it onto the same case (no second case opened).

The month's summary, its submission, the town's approval and the draw are made through the service layer; the
callback and everything after it is done on the pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from subsidy.core import db
from subsidy.models import Case
from subsidy.verification import callbacks
from tests.browser.conftest import login
from tests.browser.screenshots import shot
from tests.browser.test_callbacks_browser import _notice, _record, _summary_waiting_for_the_bureau
from tests.services.settlement.test_settlement import do

pytestmark = pytest.mark.browser


def _cases(engine) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(func.count()).select_from(Case)).scalar_one()


def test_a_callback_discrepancy_becomes_a_flag_that_confirms_the_case_it_opened(open_page, engine):
    summary_id = _summary_waiting_for_the_bureau(engine)
    [number] = do(engine, "drc", lambda s, me: callbacks.draw_sample(s, user=me, summary_id=summary_id,
                                                                     size=1)).numbers
    drc = open_page()
    login(drc, "drc")

    # The household says it received 300 kg of its slip's 500: the callback sets the slip aside and opens a case.
    drc.goto(f"/summaries/{summary_id}/sample")
    _record(drc, number, received_kg=300, paid="0")
    assert _notice(drc) == f"销售单{number}回访发现问题，已剔除并登记案件"
    with drc.expect_navigation(url=re.compile(r".*/cases/\d+$")):
        drc.locator(f"tr[data-slip='{number}'] a", has_text="查看案件").click()
    case_url = drc.url
    case_number = re.search(r"TS-\w+-\d{4}", drc.locator("h1").inner_text()).group()
    assert "回访" in drc.locator("table.kv").inner_text()
    opened = _cases(engine)

    # The rules find the discrepancy; its flag names the slip and links the case.
    drc.goto("/anomalies")
    with drc.expect_navigation():
        drc.click("form[action='/anomalies/run'] button")
    assert "已运行异常预警" in drc.locator(".alert-ok").inner_text()
    drc.select_option("#q-rule", "callback_discrepancy")
    with drc.expect_navigation():
        drc.click("form.filter-bar button[type=submit]")
    row = drc.locator("table.list tbody tr", has_text=number)
    assert row.count() == 1 and "回访发现不符" in row.inner_text()
    with drc.expect_navigation():
        row.locator("a").first.click()
    assert drc.locator(f"a[href='/slips/{number}']").count() == 1
    linked = drc.locator("table.kv tr", has_text="案件").locator("a")
    assert linked.inner_text() == case_number and case_url.endswith(linked.get_attribute("href"))
    assert "住户称实收300公斤（销售单500公斤）" in drc.locator("table.kv").inner_text()
    shot(drc, "anomaly-callback-flag")

    # Confirming lands on the callback's own case; no case is added.
    drc.fill("#f-confirm-comment", "回访属实，转案件办理")
    with drc.expect_navigation(url=re.compile(r".*/cases/\d+\?notice=.*")):
        drc.click("form[action$='/confirm'] button")
    assert drc.url.split("?")[0] == case_url and case_number in drc.locator("h1").inner_text()
    assert _cases(engine) == opened
    drc.goto("/anomalies?rule=callback_discrepancy&status=confirmed")
    assert drc.locator("table.list tbody tr", has_text=number).count() == 1
