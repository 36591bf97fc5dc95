"""The printed slip: what a paper copy says (the amount in capitals, the subsidy rate, the batch's test report, the
address once) and its two layouts, one copy per part or one pass onto pre-printed five-part stationery."""

from __future__ import annotations

import re

from tests.web.sales.test_slips import approved, issue


def _copies(html: str) -> list[str]:
    return re.findall(r'<section class="copy".*?</section>', html, flags=re.S)


def test_each_printed_copy_states_the_total_in_capitals_the_rate_and_the_batchs_test_report(client_as, api_as, engine):
    buyer = approved(engine)
    number = issue(api_as("coal-a"), buyer, 1000).json()["number"]
    html = client_as("coal-a").get(f"/slips/{number}/print").text
    copies = _copies(html)
    assert len(copies) == 5
    for copy in copies:
        assert "人民币 壹仟壹佰元整" in copy and "¥1,100.00" in copy  # 1 t at the demo's 1,100 yuan/t
        assert "洁净型煤 300.00元/吨" in copy                          # the demo's ordinary household's rate
        assert re.search(r"<td>JC-\d{4}-\d+</td>", copy) and "批次1" not in copy
        # The demo's addresses start with the village: it is not said twice.
        assert "财源街道东关村1组" in copy and "东关村 东关村" not in copy and "东关村东关村" not in copy
        # Neither the company's name nor the credit-code label may break across lines.
        assert re.search(r'<span class="nowrap">[^<]*</span>　<span class="nowrap">统一社会信用代码：', copy)


def test_the_continuous_layout_prints_the_slip_once_with_the_five_copy_barcodes(client_as, api_as, engine):
    buyer = approved(engine)
    number = issue(api_as("coal-a"), buyer).json()["number"]
    page = client_as("coal-a")
    html = page.get(f"/slips/{number}/print?layout=continuous").text
    assert len(_copies(html)) == 1 and 'data-layout="continuous"' in html
    assert html.count("<svg") == 5 and "241mm 140mm" in html
    for c in range(1, 6):
        assert f"{number}-{c}" in html
    assert 'class="band' not in html.split("</style>")[1]  # the plies are pre-printed with their names and colours
    assert html.count("人民币 ") == 1
    # The toolbar offers the three ways and marks the one shown; the default is one copy per part.
    assert re.search(r'href="\?layout=continuous" aria-current="page"', html)
    default = page.get(f"/slips/{number}/print").text
    assert len(_copies(default)) == 5 and re.search(r'href="\?paper=form" aria-current="page"', default)
    assert api_as("coal-a").get(f"/api/v1/slips/{number}/print?layout=continuous").text.count("<svg") == 5
