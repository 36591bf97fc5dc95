"""The stock ledger pages (/ledger): one page of rows at a time, the balance carried between pages, the export."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

from openpyxl import load_workbook

from subsidy.core import db
from subsidy.policy import seasons
from tests.factories.supply import sold_slip, supplier


def sixty_days_of_sales(engine) -> int:
    """coal-a sells 1,000 kg + n on each of 60 days from the season's first, the day its 500 t arrived (demo): 61
    rows."""
    with db.transaction(engine) as s:
        coal_a, first_day = supplier(s, "coal-a"), seasons.active_season(s).starts_on
        for n in range(60):
            sold_slip(s, "coal-a", 1_000 + n, issued_on=first_day + timedelta(days=n))
        return coal_a.id


def numbers_in(cells: list[str]) -> list[int]:
    return [int(c.replace(",", "")) for c in cells]


def test_the_ledger_shows_fifty_rows_a_page_and_carries_the_balance_to_the_next(client_as, engine):
    coal_a = sixty_days_of_sales(engine)
    page = client_as("coal-a")
    first = page.get(f"/ledger/{coal_a}/briquette")
    assert first.status_code == 200
    assert "共 61 条，第 1/2 页" in first.text and "承前页" not in first.text
    balances = numbers_in(re.findall(r'<td class="num">([\d,]+)</td>\s*</tr>', first.text))
    assert len(balances) == 50 and balances[0] == 500_000
    assert balances[-1] == 500_000 - sum(1_000 + n for n in range(49))
    second = page.get(f"/ledger/{coal_a}/briquette?page=2")
    assert "共 61 条，第 2/2 页" in second.text
    carried = re.search(r'承前页</td><td class="num">([\d,]+)</td>', second.text)
    assert carried and numbers_in([carried.group(1)]) == [balances[-1]]
    assert f"{500_000 - sum(1_000 + n for n in range(60)):,}" in second.text
    assert "暂无记录" in page.get(f"/ledger/{coal_a}/briquette?page=3").text
    too_deep = page.get(f"/ledger/{coal_a}/briquette?page=999999999999999999")  # beyond paging.MAX_PAGE
    # The first page instead, with the reason (web/lists.py: ListArgs.read), not an error page.
    assert too_deep.status_code == 200 and "页码不能超过 1000" in too_deep.text and "共 61 条，第 1/2 页" in too_deep.text


def test_the_export_holds_every_row_of_the_season(client_as, engine):
    coal_a = sixty_days_of_sales(engine)
    response = client_as("drc").get(f"/ledger/{coal_a}/briquette/xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    body = [r for r in rows[2:] if r[1] in ("进货", "销售")]
    assert len(body) == 61 and [r[7] for r in body[1:]] == [1] * 60
    assert body[-1][6] == 500_000 - sum(1_000 + n for n in range(60))
    assert next(r for r in rows if r[0] == "合计")[4:7] == (500_000, sum(1_000 + n for n in range(60)), body[-1][6])


def test_a_supplier_gets_404_for_another_suppliers_ledger_and_its_export(client_as, engine):
    with db.new_session(engine) as s:
        other = supplier(s, "coal-b").id
    page = client_as("coal-a")
    assert page.get(f"/ledger/{other}/briquette?page=2").status_code == 404
    assert page.get(f"/ledger/{other}/briquette/xlsx").status_code == 404
    assert page.get(f"/ledger/{other}/stove").status_code == 404


def test_the_days_of_stock_left_are_whole_days_on_the_pages(client_as, engine):
    # coal-b: 500 t in stock; 300 t sold today leave 200 t at 300/14 t a day: 9.33 days, shown as 9.
    with db.transaction(engine) as s:
        coal_b = supplier(s, "coal-b").id
        sold_slip(s, "coal-b", 300_000, issued_on=seasons.active_season(s).starts_on.today())
    page = client_as("coal-b")
    assert re.search(r"<th>可销售天数</th><td>9 天</td>", page.get(f"/ledger/{coal_b}/briquette").text)
    assert re.search(r'<td class="num">9(?: <span|</td>)', page.get("/ledger").text)
