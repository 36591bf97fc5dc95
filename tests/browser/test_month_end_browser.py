"""In a real browser, a month end from start to finish: the supplier builds its summaries of the month, seals and
submits them; the towns, the bureau and finance approve; finance settles the supplier's month, downloads the bank
payment list and records the payment; the progress report shows the coal sold.

The month's slips are made through the service layer (tests/factories/settlement.py); everything after is done on
the pages. The month is this month: building a month's summaries does not wait for the month to end, sealing one does unless
its town allows it, which the towns do here (see subsidy/settlement/summaries.py); the payment date the page
proposes is today, the latest it accepts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import SlipStatus, Summary, Town
from subsidy.rules.money import tons, yuan, yuan_in_capitals
from subsidy.rules.months import month_of
from subsidy.settlement.statements import statement_number
from tests.browser.conftest import login
from tests.factories.settlement import approved_registrations, make_slip, supplier

pytestmark = pytest.mark.browser

SUPPLIER = "coal-a"
TOWN_NAMES = {"caiyuan": "财源街道", "daimiao": "岱庙街道"}
TOWN_OF_VILLAGE = {"dongguan": "财源街道", "xiguan": "财源街道", "yingxi": "岱庙街道"}
# (village, kg, status): three sales in 财源街道, one in 岱庙街道, and a voided slip that must count nowhere. (The demo
# has two approved registrations per village; each sale takes the next one.)
SALES = [("dongguan", 1000, SlipStatus.ISSUED), ("dongguan", 500, SlipStatus.ISSUED),
         ("xiguan", 750, SlipStatus.ISSUED), ("yingxi", 1000, SlipStatus.ISSUED),
         ("xiguan", 800, SlipStatus.VOIDED)]


def _make_the_months_slips(engine) -> tuple[str, dict[str, dict[str, int]]]:
    """The slips of this month; returns the month and, per town name, the issued slips' count, kg, amount and
    subsidy as the service stored them."""
    today = clock.today()
    per_town: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with db.transaction(engine) as session:
        seller = supplier(session, SUPPLIER)
        used: dict[str, int] = defaultdict(int)
        for village, kg, status in SALES:
            registration = approved_registrations(session, village)[used[village]]
            used[village] += 1
            assert registration.coal_kg >= kg
            slip = make_slip(session, supplier=seller, registration=registration, issued_on=today, coal_kg=kg,
                             status=status)
            if status == SlipStatus.ISSUED:
                totals = per_town[TOWN_OF_VILLAGE[village]]
                totals["slips"] += 1
                totals["kg"] += slip.coal_kg
                totals["amount"] += slip.amount_fen
                totals["subsidy"] += slip.subsidy_fen
    return month_of(today), {town: dict(values) for town, values in per_town.items()}


def _notice(page) -> str:
    return page.locator(".alert-ok").inner_text().strip()


def _open_summary(page, town_name: str) -> None:
    """From the summaries page, the waiting summary of that town."""
    page.goto("/summaries")
    row = page.locator("table.list tbody tr", has_text=town_name).first
    with page.expect_navigation(url=re.compile(r".*/summaries/\d+$")):
        row.locator("a").first.click()


def _tile(page, label: str) -> str:
    return page.locator(".tile", has_text=label).locator(".count").inner_text().strip()


def _approve_on_its_page(page, town_name: str, status_after: str) -> None:
    _open_summary(page, town_name)
    # Nobody has scanned the office's copies of these slips: the approval asks first, naming them (item 9).
    with page.expect_navigation(url=re.compile(r".*/summaries/\d+/approve$")):
        page.click("button[type=submit] >> text=审核通过")
    _confirm_unscanned(page)
    assert _notice(page) == "已审核通过"
    assert page.locator("h1 .badge").inner_text() == status_after


def _confirm_unscanned(page) -> None:
    """The confirmation step names every unscanned slip; confirming approves."""
    step = page.locator("[data-confirm-step=approve]")
    assert "尚未扫码登记" in step.inner_text()
    assert page.locator("table[data-unscanned] tbody tr").count() >= 1
    with page.expect_navigation(url=re.compile(r".*/summaries(/\d+)?\?notice=.*")):
        page.click("button[type=submit] >> text=确认审核通过")


def _sold_tons(page, town_name: str) -> str:
    """The 已售洁净煤(吨) figure of a row of the progress report."""
    headers = page.locator("table.list thead th").all_inner_texts()
    column = headers.index("已售洁净煤(吨)")
    row = page.locator("table.list tbody tr", has=page.locator(f"td:first-child:text-is('{town_name}')"))
    return row.locator("td").nth(column).inner_text().strip()


def test_a_month_end_from_the_supplier_to_the_payment_and_the_progress_report(open_page, engine, tmp_path):
    month, towns = _make_the_months_slips(engine)
    total = {key: sum(t[key] for t in towns.values()) for key in ("slips", "kg", "amount", "subsidy")}
    seller, caiyuan, daimiao, drc, finance = (open_page() for _ in range(5))

    # The supplier builds the month's summaries (one per town) and seals each with its password.
    login(seller, SUPPLIER)
    seller.goto("/summaries")
    assert seller.input_value("#f-month") == month  # the form proposes this month
    seller.fill("#f-month", month)
    with seller.expect_navigation(url=re.compile(r".*/summaries\?month=.*")):
        seller.click("button[type=submit] >> text=生成汇总表")
    assert _notice(seller) == f"已生成{len(towns)}张汇总表草稿"
    # The month has not ended: the seal is not offered until each town allows an early submission (item 9).
    _open_summary(seller, "财源街道")
    assert seller.locator("[data-awaits-month-end]").count() == 1 and seller.locator("#f-password").count() == 0
    with db.transaction(engine) as session:
        drafts = {name: summary_id for name, summary_id in session.execute(
            select(Town.name, Summary.id).join(Town, Town.id == Summary.town_id).where(Summary.month == month))}
    for page, username in ((caiyuan, "caiyuan"), (daimiao, "daimiao")):
        login(page, username)
        town_name = next(name for name in drafts if name == TOWN_NAMES[username])
        page.goto(f"/summaries/{drafts[town_name]}")
        with page.expect_navigation(url=re.compile(r".*/summaries/\d+\?notice=.*")):
            page.click("button[type=submit] >> text=同意提前提交")
        assert _notice(page) == "已同意企业在月末前提交"
    for town_name, expected in towns.items():
        _open_summary(seller, town_name)
        assert seller.locator("h1").inner_text().startswith(f"{town_name}销售汇总表（{month}）")
        assert _tile(seller, "有效销售单") == str(expected["slips"])
        assert _tile(seller, "洁净煤") == tons(expected["kg"])
        assert _tile(seller, "补贴金额") == yuan(expected["subsidy"])
        if town_name == "财源街道":  # the seal is the clerk's own password: a wrong one seals nothing
            seller.fill("#f-password", "not-the-password")
            with seller.expect_navigation(url=re.compile(r".*/summaries/\d+/submit$")):
                seller.click("button[type=submit] >> text=盖章并提交")
            assert "密码不正确" in seller.locator(".alert-error").inner_text()
            assert seller.locator(".field.has-error #f-password").count() == 1
            assert seller.locator("h1 .badge").inner_text() == "草稿"
        seller.fill("#f-password", f"{SUPPLIER}-demo")
        with seller.expect_navigation(url=re.compile(r".*/summaries/\d+\?notice=.*")):
            seller.click("button[type=submit] >> text=盖章并提交")
        assert _notice(seller) == "已盖章提交"
        assert seller.locator("h1 .badge").inner_text() == "已提交"
    seller.goto("/summaries")
    assert "暂无" in seller.locator("section.card", has_text="待盖章提交或修改").inner_text()

    # Each town approves its own summary.
    for page, username, town_name in ((caiyuan, "caiyuan", "财源街道"), (daimiao, "daimiao", "岱庙街道")):
        page.goto("/summaries")
        waiting = page.locator("section.card", has_text="等待我审核").locator("tbody tr")
        assert waiting.count() == 1 and town_name in waiting.inner_text()
        _approve_on_its_page(page, town_name, "街道/镇已审核")

    # The bureau approves both at once from its queue.
    login(drc, "drc")
    drc.goto("/summaries")
    queue = drc.locator("section.card", has_text="等待我审核")
    assert queue.locator("tbody tr").count() == len(towns)
    for box in queue.locator("tbody input[type=checkbox]").all():
        box.check()
    with drc.expect_navigation(url=re.compile(r".*/summaries/approve-many$")):
        drc.click("button[type=submit] >> text=批量审核通过所选")
    assert drc.locator("table[data-unscanned]").count() == len(towns)
    _confirm_unscanned(drc)
    assert _notice(drc) == f"已审核通过{len(towns)}张汇总表"

    # Finance approves each on its page.
    login(finance, "finance")
    for town_name in towns:
        _approve_on_its_page(finance, town_name, "财政局已审核")

    # Finance settles the supplier's month.
    finance.goto("/settlements")
    ready = finance.locator("section.card", has_text="待结算").locator("tbody tr")
    assert ready.count() == 1
    assert month in ready.inner_text() and yuan(total["subsidy"]) in ready.inner_text()
    with finance.expect_navigation(url=re.compile(r".*/settlements/\d+\?notice=.*")):
        ready.locator("button", has_text="生成结算单").click()
    assert _notice(finance) == "已生成结算单"
    number = statement_number(SUPPLIER, month)
    assert number in finance.locator("h1").inner_text()
    by_town = finance.locator("section.card", has_text="分街道/镇")
    footer = by_town.locator("tfoot").inner_text()
    assert str(total["slips"]) in footer and tons(total["kg"]) in footer and yuan(total["subsidy"]) in footer
    for town_name, expected in towns.items():
        line = by_town.locator("tbody tr", has_text=town_name).inner_text()
        assert tons(expected["kg"]) in line and yuan(expected["subsidy"]) in line

    # The bank payment list is a real workbook with the supplier's account and the statement's amount.
    with finance.expect_download() as download_info:
        finance.click("text=导出银行支付清单（Excel）")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = load_workbook(saved, read_only=True)
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    header = next(r for r in rows if r and r[0] == "序号")
    paying = [r for r in rows if r and r[0] == 1]
    assert len(paying) == 1
    payment = dict(zip(header, paying[0]))
    with db.transaction(engine) as session:
        payee = supplier(session, SUPPLIER)
        assert payment["收款单位"] == payee.name and payment["开户银行"] == payee.bank_name
        assert payment["银行账号"] == payee.bank_account
    assert Decimal(str(payment["金额(元)"])) == Decimal(total["subsidy"]).scaleb(-2)  # a number cell, in yuan
    assert payment["结算单号"] == number
    total_row = next(r for r in rows if r and r[0] == "合计")
    assert Decimal(str(total_row[4])) == Decimal(total["subsidy"]).scaleb(-2)

    # Finance records the payment: a voucher reference, dated today (what the form proposes).
    assert finance.input_value("#f-paid_on") == clock.today().isoformat()
    finance.fill("#f-reference", "ZF-2026-0001")
    # Recording a payment asks first, with the amount in figures and capitals and the account (item 9).
    with finance.expect_navigation(url=re.compile(r".*/settlements/\d+/pay$")):
        finance.click("button[type=submit] >> text=登记支付")
    step = finance.locator("section.card").inner_text()
    assert "ZF-2026-0001" in step and yuan(total["subsidy"]) in step and yuan_in_capitals(total["subsidy"]) in step
    assert finance.locator("h1 .badge").count() == 0  # nothing recorded yet
    with finance.expect_navigation(url=re.compile(r".*/settlements/\d+\?notice=.*")):
        finance.click("button[type=submit] >> text=确认登记支付")
    assert _notice(finance) == "已登记支付"
    assert finance.locator("h1 .badge").inner_text() == "已支付"
    paid = finance.locator("section.card", has_text="支付").last.inner_text()
    assert "ZF-2026-0001" in paid and clock.today().isoformat() in paid

    # The supplier sees its month paid.
    seller.goto("/settlements")
    statement_row = seller.locator("table.list tbody tr", has_text=number)
    assert "已支付" in statement_row.inner_text() and "ZF-2026-0001" in statement_row.inner_text()

    # The progress report shows the coal sold: the issued slips' kg, in tons, per town and in all.
    for query in (f"?month={month}", ""):
        finance.goto(f"/reports/progress{query}")
        for town_name, expected in towns.items():
            assert _sold_tons(finance, town_name) == tons(expected["kg"])
        assert _sold_tons(finance, "合计") == tons(total["kg"])
