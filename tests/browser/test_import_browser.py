"""In a real browser (issue 14, item 6): the village uploads a filled-in registration form through the import page;
the preview lists both problems of one row, one line each with its column and reason, beside the row it will add,
and the refused row's problems are in Chinese."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login
from tests.factories.registry import row, xlsx

pytestmark = pytest.mark.browser


def test_the_import_preview_lists_two_problems_of_one_row(page, tmp_path):
    sheet = tmp_path / "登记表.xlsx"
    sheet.write_bytes(xlsx([row(name="孙海燕"), row(name="王", phone="12")]))
    login(page, "dongguan")
    page.goto("/households/import")
    page.set_input_files("#file", str(sheet))
    with page.expect_navigation(url=re.compile(r".*/households/import/\d+$")):
        page.click("button[type=submit] >> text=上传并预览")
    assert page.locator("h1").inner_text() == "导入预览"
    assert page.locator("#refused").inner_text() == "1" and page.locator("#imported").inner_text() == "1"
    refused = page.locator("#refused-rows tbody tr")
    assert refused.count() == 2
    cells = [refused.nth(i).locator("td").all_inner_texts() for i in range(2)]
    assert [c[0] for c in cells] == ["3", "3"]  # one row (the sheet's third), two problems
    assert [c[1] for c in cells] == ["户主姓名", "联系电话"]
    assert all(re.search(r"[\u4e00-\u9fff]", c[2]) for c in cells)
    added = page.locator("#added-rows tbody").inner_text()
    assert "孙海燕" in added and "********" in added  # the row to be added, its ID number masked
    assert page.locator("nav.breadcrumbs a", has_text="导入购买登记表").count() == 1
