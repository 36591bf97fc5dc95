"""History and the audit log in pages people read: sentences naming the person and unit, the action filter in
Chinese, filters by date, person, action and object, the Excel export; and the person's name on the slip and at every
review step, beside the unit."""

from __future__ import annotations

import io
import re
from html import unescape

from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Household, Registration, User, Village
from subsidy.registry import households
from subsidy.rules import months
from tests.factories.registry import household_input
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier


def _user(s, username):
    return s.execute(select(User).where(User.username == username)).scalar_one()


def _approved_household(engine) -> tuple[int, str]:
    """A household of 东关村 registered, noticed and approved by the second clerk of 财源街道 (张明远)."""
    with db.transaction(engine) as s:
        clerk = _user(s, "dongguan")
        made = households.register_household(s, clerk, clerk.village_id, household_input(head_name="韩立"))
        registration = households.register_purchase(s, clerk, made.id, 1500, 0)
        households.publish_notice(s, clerk, clerk.village_id)
        ids = made.id, registration.id
    with db.transaction(engine) as s:
        households.approve(s, _user(s, "caiyuan2"), ids[1])
    return ids[0], made.id_number


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_the_audit_log_reads_as_sentences_with_chinese_action_names_and_the_raw_entry_folded(engine, client_as):
    household_id, id_number = _approved_household(engine)
    page = client_as("auditor").get("/audit")
    assert page.status_code == 200
    assert re.search(r'<option value="household.registered"\s*>登记住户</option>', page.text)
    assert re.search(r'<option value="registration.approved"\s*>审核通过登记</option>', page.text)
    assert "张明远（财源街道）审核通过了住户韩立的购买登记" in page.text
    assert "王文书（东关村）登记了住户韩立（东关村，普通）" in page.text
    folded = re.findall(r'<details class="raw">(.*?)</details>', page.text, re.S)
    assert folded and any("household.registered" in raw for raw in folded)
    # Outside the folded raw entries and the form's values, no action code and no whole ID number.
    shown = re.sub(r'<details class="raw">.*?</details>', "", page.text, flags=re.S)
    assert "household.registered" not in _text(shown) and id_number not in page.text


def test_the_auditor_filters_by_date_person_action_and_object(engine, client_as):
    household_id, _ = _approved_household(engine)
    auditor = client_as("auditor")
    today = clock.today().isoformat()

    def actions(query: str) -> list[str]:
        page = auditor.get("/audit?" + query)
        assert page.status_code == 200, query
        return re.findall(r'<tr data-action="([a-z_.]+)"', page.text)

    assert actions(f"entity=household&entity_id={household_id}") == ["household.registered"]
    assert actions(f"who=张明远&since={today}&until={today}") == ["registration.approved"]
    assert actions("who=caiyuan2&action=registration.approved") == ["registration.approved"]
    assert actions("who=李春华") == []
    assert actions("since=2000-01-01&until=2000-01-31") == []
    paged = auditor.get(f"/audit?who=dongguan&since={today}")
    assert f"who=dongguan&amp;since={today}&amp;page=" in paged.text or "第 1/1 页" in paged.text
    assert f'href="/audit/export.xlsx?who=dongguan&amp;since={today}"' in paged.text
    bad = auditor.get("/audit?since=12/01/2026")
    assert bad.status_code == 422 and "日期应为" in bad.text


def test_the_filtered_log_downloads_as_a_spreadsheet_for_the_auditor_only(engine, client_as):
    _approved_household(engine)
    answer = client_as("auditor").get("/audit/export.xlsx?who=caiyuan2")
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    rows = list(load_workbook(io.BytesIO(answer.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "时间", "操作人", "单位") and len(rows) == 2
    assert rows[1][2:4] == ("张明远", "财源街道") and "审核通过了住户韩立的购买登记" in rows[1][7]
    assert client_as("admin").get("/audit/export.xlsx").status_code == 200
    for username in ("drc", "caiyuan", "coal-a"):
        assert client_as(username).get("/audit/export.xlsx").status_code == 403, username


def test_the_household_history_and_its_registration_name_the_reviewer_beside_the_unit(engine, client_as):
    household_id, _ = _approved_household(engine)
    for username in ("dongguan", "caiyuan"):
        page = client_as(username).get(f"/households/{household_id}")
        text = _text(page.text.split('id="history"', 1)[1])
        assert "王文书（东关村）登记了住户韩立" in text
        assert "张明远（财源街道）审核通过了住户韩立的购买登记" in text
        assert "registration.approved" not in text
        assert re.search(r'<td class="reviewer">张明远（财源街道） \d{4}-\d\d-\d\d \d\d:\d\d</td>', page.text)
    listed = client_as("caiyuan").get("/registrations?status=approved&q=")
    assert '<small class="muted reviewer">张明远（财源街道）</small>' in listed.text


def test_the_slip_names_the_clerk_who_issued_it_not_the_company(engine, api_as, client_as):
    with db.transaction(engine) as s:
        v = s.execute(select(Village).where(Village.code == "dongguan")).scalar_one()
        registration, household = s.execute(
            select(Registration, Household).join(Household, Household.id == Registration.household_id)
            .where(Registration.village_id == v.id, Registration.status == "approved",
                   Registration.sold_coal_kg == 0).order_by(Registration.id)).first()
        registration_id, id_number = registration.id, household.id_number
    api = api_as("coal-a2")  # the second clerk of 泰安市甲洁净煤配送有限公司
    issued = api.post("/api/v1/slips", json={"registration_id": registration_id, "id_number": id_number,
                                             "lines": [{"product": "briquette", "quantity": 500}]})
    assert issued.status_code == 201, issued.text
    number = issued.json()["number"]
    coal_a = client_as("coal-a")
    printed = coal_a.get(f"/slips/{number}/print")
    assert printed.status_code == 200 and "开票人：何玉梅" in printed.text
    assert "何玉梅" in coal_a.get(f"/slips/{number}").text


def test_each_review_step_of_a_summary_names_the_person_beside_the_unit(engine, client_as):
    month = months.month_of(clock.today())
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for registration in approved_registrations(s, "dongguan")[:1]:
            make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                      coal_kg=500)
    coal_a = client_as("coal-a")
    built = coal_a.submit("/summaries/build", {"month": month})
    (summary_id,) = sorted({int(x) for x in re.findall(r'href="/summaries/(\d+)"', built.text)})
    allow_early(engine, summary_id)
    coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"})
    town = client_as("caiyuan2")
    seen = re.search(r'name="seen" value="([0-9:]+)"', town.get(f"/summaries/{summary_id}").text).group(1)
    assert town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": seen, "confirmed": "1"}
                       ).status_code == 200
    steps = re.findall(r'<td>([^<]*)</td><td class="reviewer">([^<]*)</td>', client_as("drc").get(
        f"/summaries/{summary_id}").text)
    assert steps == [("泰安市甲洁净煤配送有限公司", "刘志刚"), ("区发改局", "孙海涛"),
                     ("泰安市甲洁净煤配送有限公司", "刘志刚"), ("财源街道", "张明远")]
    assert client_as("drc").submit(f"/summaries/{summary_id}/return", {"reason": "数量不符"}).status_code == 200
    log = _text(client_as("auditor").get("/audit?action=summary.returned").text)
    assert (f"孙海涛（区发改局）退回了泰安市甲洁净煤配送有限公司{int(month[:4])}年{int(month[5:])}月在财源街道的销售汇总表，"
            "原因：数量不符") in log
