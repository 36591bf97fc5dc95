"""Every spreadsheet the app answers with can be summed in Excel and WPS: amounts and quantities are number cells
with their number formats (yuan "#,##0.00", tons "0.000", kg "#,##0", counts "0"), ID numbers, phones and bank
accounts text cells, villages by name (never their codes), and each total row is the sum of the numbers above it.

The data is the walk of test_export_cells (every export route, each as a role that may open it), planted with
ordinary text."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Village
from tests.web.test_export_cells import exports, plant

# Header words -> the kind of the column under them (the first that matches).
KINDS = [("身份证", "text"), ("电话", "text"), ("银行账号", "text"), ("村(社区)", "village"),
         ("(元)", "money"), ("(吨)", "tons"), ("(千克)", "kg"), ("(台)", "count"), ("(张)", "count"),
         ("(户)", "count"), ("序号", "serial"), ("比例", "share"), ("完成率", "rate")]
FORMATS = {"money": {"#,##0.00"}, "tons": {"0.000"}, "kg": {"#,##0"}, "count": {"0"}, "serial": {"0"},
           "share": {"0%", "0.00%"}, "rate": {"0.0%"}}
SUMMED = {"money", "tons", "kg", "count", "share"}  # a total row adds these up (a completion rate is no sum)
# An amount or a quantity written as formatted text: "2,200.00", "1.500", "12,500".
NUMBER_AS_TEXT = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+\.\d{2,3}$")

# What each export must show (so that the test cannot pass on a sheet that lost its columns).
EXPECTED = {
    "/api/v1/villages/{village_id:int}/registrations.xlsx": {"village", "text", "tons", "count"},
    "/households/export.xlsx": {"village", "text", "tons", "count"},
    "/registrations/export.xlsx": {"village", "text", "tons", "count"},
    "/registrations/notices/{notice_id:int}/notice.xlsx": {"text", "tons", "count"},
    "/slips.xlsx": {"village", "text", "tons", "count", "money"},
    "/summaries/{summary_id:int}/xlsx": {"village", "text", "tons", "count", "money", "total"},
    "api /summaries/{id}.xlsx": {"village", "text", "tons", "count", "money", "total"},
    "/settlements/{settlement_id:int}/xlsx": {"tons", "count", "money", "share", "total"},
    "api /settlements/{id}.xlsx": {"tons", "count", "money", "share", "total"},
    "/settlements/{settlement_id:int}/payment.xlsx": {"text", "money", "total"},
    "/reports/monthly.xlsx": {"tons", "count", "money", "rate", "total"},
    "/ledger/{supplier_id:int}/{product:str}/xlsx": {"kg", "count", "total"},
    "/reports/dispatch.xlsx": {"tons", "count", "rate", "total"},
    "/api/v1/reports/dispatch.xlsx": {"tons", "count", "rate", "total"},
    "/reports/acceptance.xlsx": {"tons", "count", "money", "rate", "total"},
    "/api/v1/reports/acceptance.xlsx": {"tons", "count", "money", "rate", "total"},
}


def kind_of(header) -> str | None:
    if not isinstance(header, str):
        return None
    return next((kind for word, kind in KINDS if word in header), None)


def tables(rows: list[list]):
    """(header row, body rows, total row or None) of each table of a sheet: a header is a row of three or more text
    cells of which one names a kind; the body runs to a blank row, a 合计 row (the total) or the sheet's end."""
    i = 0
    while i < len(rows):
        row = rows[i]
        texts = [c for c in row if c.data_type == "s" and c.value]
        if len(texts) >= 3 and any(kind_of(c.value) for c in texts) and all(
                c.data_type == "s" or c.value is None for c in row):
            body, total, i = [], None, i + 1
            while i < len(rows) and any(c.value is not None for c in rows[i]):
                if isinstance(rows[i][0].value, str) and rows[i][0].value.startswith("合计"):
                    total = rows[i]
                    i += 1
                    break
                body.append(rows[i])
                i += 1
            yield row, body, total
        else:
            i += 1


def as_decimal(value) -> Decimal:
    return Decimal(str(value))


def check_sheet(sheet, villages: dict[str, str]) -> tuple[set[str], list[str]]:
    """The kinds the sheet shows, and what is wrong with it."""
    rows = [list(r) for r in sheet.iter_rows()]
    seen, problems = set(), []
    for row in rows:
        for left, cell in zip(row, row[1:]):
            if isinstance(cell.value, str) and NUMBER_AS_TEXT.match(cell.value):
                problems.append(f"{cell.coordinate} is a number written as text: {cell.value!r}")
            kind = kind_of(left.value) if left.data_type == "s" else None
            if kind in ("money", "tons", "kg") and cell.value is not None and len(
                    [c for c in row if c.data_type == "s"]) <= 2:  # a "label: amount" line, not a header row
                if cell.data_type != "n" or cell.number_format not in FORMATS[kind]:
                    problems.append(f"{cell.coordinate} after {left.value!r} is {cell.value!r} ({cell.number_format})")
    for header, body, total in tables(rows):
        for column, head in enumerate(header):
            kind = kind_of(head.value)
            if kind is None:
                continue
            cells = [r[column] for r in body if r[column].value is not None]
            if cells:
                seen.add(kind)
            for c in cells:
                if kind == "text" and c.data_type != "s":
                    problems.append(f"{c.coordinate} ({head.value}) is not text: {c.value!r}")
                elif kind == "village" and (c.value not in villages.values() or c.value in villages):
                    problems.append(f"{c.coordinate} ({head.value}) is not a village's name: {c.value!r}")
                elif kind == "rate" and c.value == "—":
                    continue
                elif kind in FORMATS and (c.data_type != "n" or c.number_format not in FORMATS[kind]):
                    problems.append(f"{c.coordinate} ({head.value}) is {c.value!r} as {c.data_type} "
                                    f"{c.number_format!r}, not a {kind} number")
                elif kind in ("kg", "count", "serial") and not isinstance(c.value, int):
                    problems.append(f"{c.coordinate} ({head.value}) is not a whole number: {c.value!r}")
            if total is None or kind not in SUMMED or "结存" in head.value:  # a balance is carried, not summed
                continue
            cell = total[column]
            if cell.data_type != "n" or cell.number_format not in FORMATS[kind]:
                problems.append(f"total {cell.coordinate} ({head.value}) is {cell.value!r}, not a {kind} number")
            elif as_decimal(cell.value) != sum((as_decimal(c.value) for c in cells if c.data_type == "n"), Decimal(0)):
                problems.append(f"total {cell.coordinate} ({head.value}) = {cell.value} is not the sum of "
                                f"{[c.value for c in cells]}")
            else:
                seen.add("total")
    return seen, problems


def test_every_export_writes_amounts_and_quantities_as_summable_numbers_and_villages_by_name(
        engine, client_as, api_as):
    ids = plant(engine, lambda tag: f"某{tag}")
    with db.transaction(engine) as s:
        villages = dict(s.execute(select(Village.code, Village.name)).all())
    clients, problems, checked = {}, {}, set()
    for route, who, url, _ in exports(ids):
        if route == "/households/template.xlsx":  # a blank form: its own tests (tests/web/registry)
            continue
        if who not in clients:
            clients[who] = api_as(who[4:]) if who.startswith("api:") else client_as(who)
        response = clients[who].get(url)
        assert response.status_code == 200, route
        seen, found = set(), []
        for sheet in load_workbook(io.BytesIO(response.content)).worksheets:
            kinds, wrong = check_sheet(sheet, villages)
            seen |= kinds
            found += wrong
        missing = EXPECTED.get(route, set()) - seen
        if missing:
            found.append(f"shows no {sorted(missing)}")
        if found:
            problems[route] = found
        checked.add(route)
    assert problems == {}
    assert checked >= set(EXPECTED)


def test_a_summed_total_that_differs_from_its_rows_is_caught():
    """The check itself: a sheet whose total row is one fen off, or whose amount is text, is reported."""
    from openpyxl import Workbook

    from subsidy.core import sheets

    book = Workbook()
    ws = book.active
    for r, values in enumerate([["村(社区)", "补贴(元)", "炉具(台)"], ["东关村", sheets.money(150), sheets.count(1)],
                                ["dongguan", "2,200.00", sheets.count(1)],
                                ["合计", sheets.money(220151), sheets.count(2)]], start=1):
        for c, value in enumerate(values, start=1):
            sheets.put(ws, r, c, value)
    out = io.BytesIO()
    book.save(out)
    _, problems = check_sheet(load_workbook(io.BytesIO(out.getvalue())).active, {"dongguan": "东关村"})
    assert any("B3 is a number written as text" in p for p in problems)
    assert any("A3" in p and "village" in p for p in problems)
    assert any("total B4" in p for p in problems)
    assert not any("C4" in p for p in problems)
