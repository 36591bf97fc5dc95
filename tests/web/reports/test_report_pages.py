"""The report pages as each office reads them: a village's progress is its own (named after it, its own
registrations and sales, and no town target passed off as the village's), a town's and the district's per town."""

from __future__ import annotations

import re

from subsidy.core import clock, db
from tests.factories.settlement import approved_registrations, make_slip, supplier


def sell(engine, sales: dict[str, int]) -> None:
    """coal-a sells `kg` to the first approved registration of each village code."""
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for code, kg in sales.items():
            make_slip(s, supplier=seller, registration=approved_registrations(s, code)[0],
                      issued_on=clock.today().replace(day=1), coal_kg=kg)


def cells(html: str) -> list[list[str]]:
    """The rows of the page's first table, each a list of its cells' text."""
    table = html[html.index("<table"):html.index("</table>")]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_a_villages_progress_page_is_the_villages_own_and_names_the_town_target_as_the_towns(engine, client_as):
    sell(engine, {"dongguan": 1000, "xiguan": 750})
    page = client_as("dongguan").get("/reports/progress")
    assert page.status_code == 200
    html = page.text
    assert "<title>东关村进度报表" in html and "<h1>东关村进度" in html
    header, *rows = cells(html)
    assert header[0] == "村(社区)" and not any("目标" in h or "完成率" in h for h in header)
    assert [r[0] for r in rows] == ["东关村"]  # its own row only, no 合计 of one row, no town
    row = dict(zip(header, rows[0]))
    assert row["已售洁净煤(吨)"] == "1.000"  # 东关村's sale, not 西关社区's
    assert "所属财源街道本季目标：洁净煤 2,000.000 吨、炉具 120 台（全街道/镇合计，不是本村目标）" in html
    assert "洁净煤完成率（已售/目标）" not in html and "洁净煤销售进度（已售/已审核登记）" in html
    monthly = client_as("dongguan").get("/reports/monthly")
    assert cells(monthly.text)[0][0] == "村(社区)" and cells(monthly.text)[1][0] == "东关村"


def test_a_towns_and_the_districts_progress_stay_per_town_with_their_targets(engine, client_as, api_as):
    sell(engine, {"dongguan": 1000, "xiguan": 750})
    header, *rows = cells(client_as("caiyuan").get("/reports/progress").text)
    assert header[:2] == ["街道/镇", "目标(吨)"]
    assert rows[0][:2] == ["财源街道", "2,000.000"] and rows[0][4] == "1.750"
    header, *rows = cells(client_as("drc").get("/reports/progress").text)
    assert [r[0] for r in rows][:3] == ["财源街道", "岱庙街道", "泰前街道"] and rows[-1][0] == "合计"
    # The API keeps its contract (per town) for every role, the village's included.
    (town,) = api_as("dongguan").get("/api/v1/reports/progress").json()
    assert town["town"] == "财源街道" and town["target_coal_kg"] == 2_000_000 and town["sold_coal_kg"] == 1000
