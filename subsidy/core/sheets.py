"""Every cell of every spreadsheet the system makes is written here.

openpyxl decides a cell's type from its value: a string starting with "=" becomes a live formula (an address typed as
`=HYPERLINK("http://…"&A1,"点击")` would run in the clerk's Excel and could send the row's ID number away), one of
"#N/A", "#DIV/0!"... becomes an error cell, and a string with a control character makes the writer raise, which would
fail the whole sheet. So a string is always a text cell (type "s", number format "@", shown as typed), with the
characters no text field may hold (subsidy/rules/text.py) removed; numbers, dates and None keep openpyxl's types.

For write-only workbooks: `append(sheet, values)`; for ordinary ones: `put(sheet, row, column, value)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.cell import Cell, WriteOnlyCell

from subsidy.rules.text import without_unwanted

MAX_CELL_CHARS = 32767  # Excel's limit for one cell


def set_value(cell: Cell, value) -> Cell:
    """Put `value` into `cell`: a string as text whatever it starts with, anything else as openpyxl types it."""
    if isinstance(value, str):
        value = without_unwanted(value)[:MAX_CELL_CHARS]
        if value:
            cell.value = value
            cell.data_type = "s"  # after the assignment, which may have typed it a formula ("=") or an error ("#N/A")
            cell.number_format = "@"
            return cell
        value = None  # "" (or nothing left of it) is an empty cell
    cell.value = value
    return cell


def cell(sheet, value) -> Cell:
    """A cell for `sheet.append` on a write-only sheet. A cell given is returned as it is."""
    if isinstance(value, Cell):
        return value
    return set_value(WriteOnlyCell(sheet), value)


def append(sheet, values: Iterable) -> None:
    """Append one row to a write-only sheet, every value through `cell`."""
    sheet.append([cell(sheet, value) for value in values])


def put(sheet, row: int, column: int, value) -> Cell:
    """Write `value` at (row, column) of an ordinary sheet; the cell, for styling."""
    return set_value(sheet.cell(row, column), value)


__all__ = ["append", "cell", "put", "set_value"]
