"""The case pages: a town walks a case from the form to closed and reopens it; the list marks it; the home page
flags overdue cases."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from subsidy.core import clock


def test_a_town_opens_accepts_closes_and_reopens_a_case_on_the_pages(client_as, frozen):
    frozen(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    town = client_as("caiyuan")
    assert "投诉举报" in town.get("/").text
    form = town.get("/cases/new")
    assert form.status_code == 200 and "问题描述" in form.text
    refused = town.submit("/cases/", {"channel": "hotline", "category": "", "description": "煤块冒黑烟"})
    assert refused.status_code == 422 and "请选择问题类别" in refused.text and "煤块冒黑烟" in refused.text
    made = town.submit("/cases/", {"channel": "hotline", "category": "quality", "description": "煤块冒黑烟"},
                       follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"].split("?")[0]
    page = town.get(url).text
    assert "待受理" in page and "受理（办理中）" in page and "2026-12-08" in page  # the policy sets none: 7 days
    assert town.submit(url + "/accept", {"comment": "已派人核查"}).status_code == 200
    page = town.get(url).text
    assert "办理中" in page and "已派人核查" in page
    no_finding = town.submit(url + "/close", {"finding": "", "outcome": "批次封存"})
    assert no_finding.status_code == 422 and "请选择核查结论" in no_finding.text
    town.submit(url + "/close", {"finding": "true", "outcome": "批次封存，企业整改"})
    page = town.get(url).text
    assert "已办结" in page and "属实" in page and "重新办理" in page
    town.submit(url + "/reopen", {"comment": "住户再次反映"})
    page = town.get(url).text
    assert re.findall(r"<td>(登记|受理|办结|重新办理)</td>", page) == ["登记", "受理", "办结", "重新办理"]
    listed = town.get("/cases?status=in_progress").text
    assert "煤块冒黑烟" in listed and "逾期" not in listed.split("<tbody>")[1]
    clock.freeze(datetime(2026, 12, 10, 2, 0, tzinfo=timezone.utc))
    town = client_as("caiyuan")  # nine days on, the login session has ended
    assert "badge err\">逾期" in town.get("/cases").text
    home = town.get("/").text
    assert re.search(r'class="tile urgent" href="/cases\?overdue=1">\s*<span class="count">1</span>', home)
    assert client_as("daimiao").get(url).status_code == 404
    auditor = client_as("auditor").get(url).text
    assert "煤块冒黑烟" in auditor and "/close" not in auditor


def test_a_case_opened_from_a_slip_links_it_and_the_slip_page_offers_it(client_as, api_as, engine):
    from tests.web.sales.test_slips import approved, issue

    number = issue(api_as("coal-a"), approved(engine)).json()["number"]
    town = client_as("caiyuan")
    assert f'href="/cases/new?slip_number={number}"' in town.get(f"/slips/{number}").text
    form = town.get(f"/cases/new?slip_number={number}").text
    assert f'value="{number}"' in form
    made = town.submit("/cases/", {"channel": "callback", "category": "short_weight", "description": "回访少煤",
                                   "slip_number": number.lower()}, follow_redirects=False)
    page = town.get(made.headers["location"].split("?")[0]).text
    assert f'<a href="/slips/{number}">{number}</a>' in page
