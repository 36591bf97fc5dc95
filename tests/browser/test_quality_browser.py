"""A government spot check in a real browser: a supplier's clerk has previewed a sale from a batch when the bureau
records the market regulator's failed test of it; the batch is frozen at once, the case is opened, the clerk's
confirmation is refused with the reason, and the public page shows the failure with its values."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Batch, Case, SpotCheck
from tests.browser.conftest import login
from tests.browser.screenshots import shot
from tests.browser.test_counter_browser import buyers, look_up_by_enter, slips_of
from tests.factories.supply import add_batch

pytestmark = pytest.mark.browser

REPORT_NO = "JC-BROWSER-SPOT"


def test_a_failed_spot_check_freezes_the_batch_opens_a_case_refuses_the_previewed_sale_and_is_published(
        page, open_page, engine):
    with db.transaction(engine) as s:
        batch_id = add_batch(s, "coal-a", report_no=REPORT_NO, origin="测试矿区浏览器").id
    (rid, id_number, _), = buyers(engine, 1)

    # The clerk previews a sale naming the batch.
    counter = page
    login(counter, "coal-a")
    counter.goto("/slips/new")
    look_up_by_enter(counter, id_number)
    counter.select_option("select[name=batch_0]", str(batch_id))
    counter.fill("input[name=quantity_0]", "0.5")
    with counter.expect_navigation():
        counter.click("button[data-preview]")
    assert counter.locator("button[data-confirm]").count() == 1

    # Meanwhile the bureau records the regulator's test, from the batch's page.
    bureau = open_page()
    login(bureau, "drc")
    bureau.goto(f"/batches/{batch_id}")
    with bureau.expect_navigation():
        bureau.click("text=登记抽检结果")
    bureau.fill("#f-sampled_on", clock.today().isoformat())
    bureau.fill("#f-place", "东关配送点")
    bureau.fill("#f-sampler", "王检查")
    bureau.fill("#f-lab", "山东省煤炭质量检测中心")
    bureau.fill("#f-report_no", "CJ-BROWSER-1")
    for name, value in {"volatile_pct": "9.9", "sulfur_pct": "0.81", "ash_pct": "18.2",
                        "calorific_mj_kg": "24.1"}.items():
        bureau.fill(f"#f-{name}", value)
    with bureau.expect_navigation(url=re.compile(r".*/quality/\d+\?new=1$")):
        bureau.click("form.card button[type=submit]")
    assert bureau.locator("h1 [data-result=failed]").count() == 1
    alert = bureau.locator(".alert-error").first.inner_text()
    assert "全硫 St,d 0.81% 超过上限 0.50%" in alert and "停止销售" in alert and "库存冻结" in alert
    shot(bureau, "spot-check-failed")
    with bureau.expect_navigation(url=re.compile(r".*/cases/\d+$")):
        bureau.click("text=查看案件")
    assert "抽检不合格" in bureau.content() and REPORT_NO in bureau.content()
    with db.transaction(engine) as s:
        frozen = s.get(Batch, batch_id)
        check = s.execute(select(SpotCheck).where(SpotCheck.batch_id == batch_id)).scalar_one()
        case = s.get(Case, check.case_id)
        assert frozen.frozen_at is not None and not check.passed
        assert (case.channel, case.category) == ("inspection", "quality")

    # The clerk's confirmation is refused with the reason, and nothing is issued.
    with counter.expect_navigation():
        counter.click("button[data-confirm]")
    assert "政府抽检不合格，已停止销售" in counter.content()
    assert slips_of(engine, rid) == []
    counter.goto(f"/batches/{batch_id}")
    assert counter.locator("[data-frozen]").count() == 1

    # The public page, without a login, shows the failed spot check with its values.
    public = open_page()
    public.goto("/public")
    row = public.locator("#spot-checks tr", has_text="CJ-BROWSER-1")
    assert row.count() == 1 and "failed" in row.get_attribute("class")
    text = row.inner_text()
    assert REPORT_NO in text and "0.81" in text and "不合格" in text and "停止销售" in text
    shot(public, "public-spot-check")
