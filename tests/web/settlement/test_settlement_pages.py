"""The summaries, settlements and report pages as the offices use them in a browser."""

from __future__ import annotations

import re

from subsidy.core import clock, db
from subsidy.rules.money import tons
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier
from subsidy.rules import months


def month() -> str:
    return months.month_of(clock.today())


def seen(client, summary_id: int) -> str:
    """The figures the approval form carries, read from the summary's page as the browser would send them."""
    return re.search(r'name="seen" value="([0-9:]+)"', client.get(f"/summaries/{summary_id}").text).group(1)


def seen_in_queue(client, summary_id: int) -> str:
    return re.search(rf'name="seen-{summary_id}" value="([0-9:]+)"', client.get("/summaries").text).group(1)


def approve_many(client, summary_id: int):
    return client.submit("/summaries/approve-many", {"ids": [str(summary_id)], "confirmed": "1",
                                                     f"seen-{summary_id}": seen_in_queue(client, summary_id)})


def sell(engine, villages=("dongguan",), kg=1000):
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for code in villages:
            for registration in approved_registrations(s, code):
                make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                          coal_kg=kg)


def summary_ids(html: str) -> list[int]:
    return sorted({int(x) for x in re.findall(r'href="/summaries/(\d+)"', html)})


def test_a_month_runs_through_the_pages_and_the_progress_page_shows_the_coal(engine, client_as):
    sell(engine)
    coal_a = client_as("coal-a")
    built = coal_a.submit("/summaries/build", {"month": month()})
    assert built.status_code == 200 and "已生成1张汇总表草稿" in built.text
    (summary_id,) = summary_ids(built.text)
    town = client_as("caiyuan")
    town.submit(f"/summaries/{summary_id}/allow-early")  # this month, before its end
    refused = coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "wrong"})
    assert refused.status_code == 422 and "密码不正确" in refused.text
    assert "已盖章提交" in coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"}).text
    queue = town.get("/summaries")
    assert f"/summaries/{summary_id}" in queue.text and "等待我审核（1）" in queue.text
    page = town.get(f"/summaries/{summary_id}")
    assert "本单位联未扫码" in page.text and "审核通过" in page.text
    assert "已审核通过" in town.submit(f"/summaries/{summary_id}/approve",
                                  {"comment": "同意", "seen": seen(town, summary_id), "confirmed": "1"}).text
    drc = client_as("drc")
    assert "已审核通过1张" in approve_many(drc, summary_id).text
    finance = client_as("finance")
    approve_many(finance, summary_id)
    ready = finance.get("/settlements")
    assert "生成结算单" in ready.text
    supplier_id = re.search(r'name="supplier_id" value="(\d+)"', ready.text).group(1)
    statement = finance.submit("/settlements", {"supplier_id": supplier_id, "month": month()})
    assert statement.status_code == 200 and "已生成结算单" in statement.text
    settlement_id = re.search(r'/settlements/(\d+)/pay', statement.text).group(1)
    assert finance.get(f"/settlements/{settlement_id}/payment.xlsx").status_code == 200
    assert finance.get(f"/settlements/{settlement_id}/xlsx").status_code == 200
    paid = finance.submit(f"/settlements/{settlement_id}/pay", {"reference": "ICBC-1", "paid_on": clock.today().isoformat(), "confirmed": "1"})
    assert "已登记支付" in paid.text and "ICBC-1" in paid.text
    again = finance.submit(f"/settlements/{settlement_id}/pay", {"reference": "ICBC-2", "paid_on": clock.today().isoformat()})
    assert again.status_code == 409
    progress = drc.get("/reports/progress")
    assert progress.status_code == 200 and "<svg" in progress.text
    # The charts are drawn by the server: the page loads no script but the site's one behaviour file.
    assert re.findall(r"<script\b[^>]*>", progress.text) == ['<script src="/static/app.js" defer>']
    with db.new_session(engine) as s:
        sold_kg = 1000 * len(approved_registrations(s, "dongguan"))
    assert f"<td class=\"num\">{tons(sold_kg)}</td>" in progress.text


def test_a_reviewer_returns_a_summary_and_sets_a_slip_aside(engine, client_as):
    sell(engine)
    coal_a = client_as("coal-a")
    (summary_id,) = summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)
    allow_early(engine, summary_id)
    coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"})
    town = client_as("caiyuan")
    page = town.get(f"/summaries/{summary_id}")
    slip_id = re.search(r'name="slip_id" value="(\d+)"', page.text).group(1)
    aside = town.submit(f"/summaries/{summary_id}/set-aside", {"slip_id": slip_id, "reason": "签字不清"})
    assert "已剔除该销售单" in aside.text and "签字不清" in aside.text
    assert "签字不清" in coal_a.get("/summaries").text  # back with the supplier
    missing_reason = town.submit(f"/summaries/{summary_id}/return", {"reason": ""})
    assert missing_reason.status_code == 422
    returned = town.submit(f"/summaries/{summary_id}/return", {"reason": "请补充扫描件"})
    assert "已退回" in returned.text
    assert client_as("daimiao").get(f"/summaries/{summary_id}").status_code == 404


def test_the_report_pages_render_for_the_district(engine, client_as):
    sell(engine)
    drc = client_as("drc")
    for path in ("/reports/progress", f"/reports/progress?month={month()}", "/reports/suppliers",
                 "/reports/money", "/reports/monthly", "/summaries", "/settlements"):
        response = drc.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    monthly = drc.get(f"/reports/monthly?month={month()}")
    assert f"{month()}-23" in monthly.text
    assert drc.get(f"/reports/monthly.xlsx?month={month()}").status_code == 200
    assert client_as("coal-a").get("/reports/progress").status_code == 403


def test_a_refused_build_or_seal_marks_the_field_at_fault(engine, client_as):
    sell(engine)
    coal_a = client_as("coal-a")
    bad_month = coal_a.submit("/summaries/build", {"month": "2026-13"})
    assert bad_month.status_code == 422 and "月份格式" in bad_month.text
    assert re.search(r'class="field has-error">\s*<label for="f-month"', bad_month.text)
    (summary_id,) = summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)
    allow_early(engine, summary_id)
    refused = coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "wrong"})
    assert refused.status_code == 422 and "密码不正确" in refused.text
    assert re.search(r'class="field has-error"><label for="f-password"', refused.text)


def test_a_summary_approved_after_the_statement_waits_for_and_gets_a_supplementary_statement(engine, client_as):
    def through_the_chain(summary_id, town_code):
        allow_early(engine, summary_id)
        coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"})
        town = client_as(town_code)
        town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": seen(town, summary_id), "confirmed": "1"})
        for office in ("drc", "finance"):
            approve_many(client_as(office), summary_id)

    sell(engine, villages=("dongguan",))
    coal_a = client_as("coal-a")
    (early,) = summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)
    through_the_chain(early, "caiyuan")
    finance = client_as("finance")
    supplier_id = re.search(r'name="supplier_id" value="(\d+)"', finance.get("/settlements").text).group(1)
    first = finance.submit("/settlements", {"supplier_id": supplier_id, "month": month()})
    first_id = re.search(r'/settlements/(\d+)/pay', first.text).group(1)
    number = f"JS-COAL-A-{month().replace('-', '')}"
    finance.submit(f"/settlements/{first_id}/pay", {"reference": "ICBC-1", "paid_on": clock.today().isoformat(), "confirmed": "1"})

    sell(engine, villages=("yingxi",))  # daimiao's slips come in after the month was settled and paid
    (late,) = set(summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)) - {early}
    through_the_chain(late, "daimiao")
    assert "待补充结算" in finance.get(f"/summaries/{late}").text
    queue = finance.get("/settlements")
    assert "待补充结算" in queue.text and "生成补充结算单" in queue.text and number in queue.text
    assert "不并入本结算单，待生成补充结算单" in finance.get(f"/settlements/{first_id}").text
    supplement = finance.submit("/settlements", {"supplier_id": supplier_id, "month": month()})
    assert supplement.status_code == 200 and "已生成补充结算单" in supplement.text
    assert f"补充结算单 {number}-2" in supplement.text
    assert "暂无待结算的汇总表" in finance.get("/settlements").text
    again = finance.submit("/settlements", {"supplier_id": supplier_id, "month": month()})
    assert "结算单已存在" in again.text and f"{number}-2" in again.text
    kept = finance.get(f"/settlements/{first_id}")
    assert "已支付" in kept.text and "ICBC-1" in kept.text and f"{number}-2" in kept.text
    assert f"{number}-2" in client_as("coal-a").get(f"/summaries/{late}").text


def test_an_approval_of_figures_that_changed_after_the_page_was_opened_is_refused_with_the_new_figures(
        engine, client_as):
    sell(engine, villages=("dongguan",))
    coal_a = client_as("coal-a")
    (summary_id,) = summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)
    allow_early(engine, summary_id)
    coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"})
    town = client_as("caiyuan")
    opened = seen(town, summary_id)
    with db.new_session(engine) as s:
        from sqlalchemy import select

        from subsidy.models import Slip

        slip = s.execute(select(Slip.number).where(Slip.summary_id == summary_id).limit(1)).scalar_one()
    assert coal_a.submit(f"/slips/{slip}/void", {"reason": "开错了"}).status_code == 200
    refused = town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": opened, "confirmed": "1"})
    assert refused.status_code == 409 and "发生了变化" in refused.text
    assert seen(town, summary_id) != opened
    assert "已审核通过" in town.submit(f"/summaries/{summary_id}/approve",
                                  {"comment": "同意", "seen": seen(town, summary_id), "confirmed": "1"}).text
