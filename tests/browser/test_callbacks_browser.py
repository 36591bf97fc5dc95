"""In a real browser, a callback sample (回访抽查): the bureau draws a sample of the month's summary, records one
callback with a discrepancy and one without, and approves; finance approves and settles without the set-aside slip.

The month's slips, the summary, its submission and the town's approval are made through the service layer; the
sample and everything after it is done on the pages.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Slip, Summary
from subsidy.rules.money import yuan
from subsidy.rules.months import month_of
from subsidy.settlement import summaries
from tests.browser.conftest import login
from tests.browser.screenshots import shot
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier
from tests.services.settlement.test_settlement import do

pytestmark = pytest.mark.browser


def _summary_waiting_for_the_bureau(engine) -> int:
    """coal-a's month in 财源街道, four slips, submitted and approved by the town: its id."""
    today = clock.today()
    with db.transaction(engine) as session:
        seller = supplier(session, "coal-a")
        for village in ("dongguan", "xiguan"):
            for registration in approved_registrations(session, village)[:2]:
                make_slip(session, supplier=seller, registration=registration, issued_on=today, coal_kg=500)
    (draft,) = do(engine, "coal-a", lambda s, me: summaries.build_summaries(s, clerk=me, month=month_of(today)))
    allow_early(engine, draft.id)
    do(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=draft.id, password=None))
    do(engine, "caiyuan", lambda s, me: summaries.approve(s, reviewer=me, summary_id=draft.id))
    return draft.id


def _notice(page) -> str:
    return page.locator(".alert-ok").inner_text().strip()


def _record(page, number: str, *, received_kg: int, paid: str) -> None:
    row = page.locator(f"form[data-for='{number}']")
    row.locator("select[name=reached]").select_option("1")
    row.locator("input[name=attempts]").fill("1")
    row.locator("input[name=received_kg]").fill(str(received_kg))
    row.locator("input[name=received_stoves]").fill("0")
    row.locator("input[name=paid]").fill(paid)
    with page.expect_navigation(url=re.compile(r".*/summaries/\d+/sample\?notice=.*")):
        row.locator("button", has_text="记录").click()


def _approve(page, summary_id: int) -> None:
    page.goto(f"/summaries/{summary_id}")
    with page.expect_navigation(url=re.compile(r".*/summaries/\d+/approve$")):
        page.click("button[type=submit] >> text=审核通过")
    with page.expect_navigation(url=re.compile(r".*/summaries(/\d+)?\?notice=.*")):
        page.click("button[type=submit] >> text=确认审核通过")  # nobody scanned the office's copies
    assert _notice(page) == "已审核通过"


def test_the_bureau_calls_a_sample_back_and_finance_settles_without_the_set_aside_slip(open_page, engine):
    summary_id = _summary_waiting_for_the_bureau(engine)
    drc, finance = open_page(), open_page()
    login(drc, "drc")

    # The summary's page offers the draw; the draw page sizes the sample.
    drc.goto(f"/summaries/{summary_id}")
    with drc.expect_navigation(url=re.compile(r".*/summaries/\d+/sample$")):
        drc.click("[data-sample] >> text=抽取回访样本")
    drc.select_option("#c-confidence", "90")
    drc.fill("#c-margin", "20")
    with drc.expect_navigation(url=re.compile(r".*/sample\?confidence=90&margin=20$")):
        drc.click("button >> text=计算样本量")
    suggested = int(drc.locator("[data-suggested] strong").inner_text())
    assert 1 <= suggested <= 4
    assert drc.input_value("#f-size") == str(suggested)  # the calculator fills the size in
    drc.fill("#f-size", "2")
    with drc.expect_navigation(url=re.compile(r".*/summaries/\d+/sample\?notice=.*")):
        drc.click("button >> text=按户数抽取")
    assert _notice(drc) == "已随机抽取2张销售单"
    assert drc.locator("[data-seed]").inner_text().isdigit()
    shot(drc, "callbacks-sample")

    # While the sample is open, the bureau's approval is refused with the reason.
    drc.goto(f"/summaries/{summary_id}")
    assert "尚有 2 户待回访" in drc.locator("[data-sample]").inner_text()
    with drc.expect_navigation(url=re.compile(r".*/summaries/\d+/approve$")):
        drc.click("button[type=submit] >> text=审核通过")
    with drc.expect_navigation(url=re.compile(r".*/summaries/\d+/approve$")):
        drc.click("button[type=submit] >> text=确认审核通过")
    assert "回访抽查尚未完成（抽取 2 户，已回访 0 户）" in drc.content()

    # One household received less than its slip says; the other confirms it.
    drc.goto(f"/summaries/{summary_id}/sample")
    rows = drc.locator("tr[data-slip]")
    short_number, fine_number = (rows.nth(i).get_attribute("data-slip") for i in range(2))
    with db.new_session(engine) as s:
        short, fine = (s.execute(select(Slip).where(Slip.number == n)).scalar_one()
                       for n in (short_number, fine_number))
        before = s.get(Summary, summary_id)
        expected_fen, expected_slips = before.subsidy_fen - short.subsidy_fen, before.slip_count - 1
        short_pays, fine_pays, fine_kg = yuan(short.household_pays_fen), yuan(fine.household_pays_fen), fine.coal_kg
    _record(drc, short_number, received_kg=300, paid=short_pays)
    assert _notice(drc) == f"销售单{short_number}回访发现问题，已剔除并登记案件"
    _record(drc, fine_number, received_kg=fine_kg, paid=fine_pays)
    assert _notice(drc) == f"已记录销售单{fine_number}的回访"
    assert drc.locator("[data-done]").inner_text() == "2" and drc.locator("[data-discrepancies]").inner_text() == "1"
    assert drc.locator(f"tr[data-slip='{short_number}'] a", has_text="查看案件").count() == 1
    shot(drc, "callbacks-recorded")

    _approve(drc, summary_id)
    assert drc.locator("h1 .badge").inner_text() == "发改局已审核"

    # Finance sees the sample in its queue, approves and settles: the set-aside slip is not paid.
    login(finance, "finance")
    finance.goto("/summaries")
    queued = finance.locator("section.card", has_text="等待我审核").locator("tbody tr").first
    assert "已回访 2/2" in queued.inner_text() and "问题 1" in queued.inner_text()
    _approve(finance, summary_id)
    finance.goto("/settlements")
    ready = finance.locator("section.card", has_text="待结算").locator("tbody tr")
    with finance.expect_navigation(url=re.compile(r".*/settlements/\d+\?notice=.*")):
        ready.locator("button", has_text="生成结算单").click()
    footer = finance.locator("section.card", has_text="分街道/镇").locator("tfoot").inner_text()
    assert yuan(expected_fen) in footer and str(expected_slips) in footer
    with db.new_session(engine) as s:
        assert s.execute(select(Slip.summary_id).where(Slip.number == short_number)).scalar_one() is None
