"""Every cell of every spreadsheet the system makes is written here.

openpyxl decides a cell's type from its value: a string starting with "=" becomes a live formula (an address typed as
`=HYPERLINK("http://…"&A1,"点击")` would run in the clerk's Excel and could send the row's ID number away), one of
"#N/A", "#DIV/0!"... becomes an error cell, and a string with a control character makes the writer raise, which would
fail the whole sheet. So a string is always a text cell (type "s", number format "@", shown as typed), with the
characters no text field may hold (subsidy/rules/text.py) removed; numbers, dates and None keep openpyxl's types.

Amounts and quantities are written as numbers with a number format, so that Excel and WPS sum them and show them the
way the pages do; each kind has one helper here, and every export uses these (never a formatted string such as
"2,200.00", which is text that no SUM adds up):

| kind | helper | value written | number format |
|---|---|---|---|
| money (integer fen) | `money(fen)` | yuan: `Decimal(fen)` scaled by 10^-2, exact | `#,##0.00` |
| coal (integer kg), in tons | `tons(kg)` | `Decimal(kg)` scaled by 10^-3, exact | `0.000` |
| coal (integer kg), in kg | `kg(kg)` | the int | `#,##0` |
| a count (stoves, slips, days) | `count(n)` | the int | `0` |
| a share | `ratio(part, whole)`, `share_bp(bp)` | a Decimal fraction | `0.0%` / `0%` or `0.00%` |
| text (ID numbers, phones, codes) | `text(value)` | `str(value)` as a text cell | `@` |

The Decimal is exact; openpyxl writes it with 16 significant digits ("%.16g"), which holds any amount below
10^14 yuan to the fen, so no float arithmetic ever touches the amount on its way to the cell. `None` stays an empty
cell whatever its kind.

For write-only workbooks: `append(sheet, values)`; for ordinary ones: `put(sheet, row, column, value)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from openpyxl.cell import Cell, WriteOnlyCell

from subsidy.rules.text import without_unwanted

MAX_CELL_CHARS = 32767  # Excel's limit for one cell

MONEY_FORMAT = "#,##0.00"
TONS_FORMAT = "0.000"
KG_FORMAT = "#,##0"
COUNT_FORMAT = "0"
TEXT_FORMAT = "@"


@dataclass(frozen=True)
class Typed:
    """A value with the number format its cell gets (see the table above); made by the helpers below."""

    value: int | Decimal | str | None
    number_format: str


def money(fen: int | None) -> Typed:
    """An amount in integer fen as yuan, a number cell formatted "#,##0.00" (2,200.00)."""
    return Typed(None if fen is None else Decimal(int(fen)).scaleb(-2), MONEY_FORMAT)


def tons(kg: int | None) -> Typed:
    """A quantity of coal in integer kg as tons, a number cell formatted "0.000" (1.500)."""
    return Typed(None if kg is None else Decimal(int(kg)).scaleb(-3), TONS_FORMAT)


def kg(kg: int | None) -> Typed:
    """A quantity of coal in integer kg, a whole-number cell formatted "#,##0" (1,500)."""
    return Typed(None if kg is None else int(kg), KG_FORMAT)


def count(n: int | None) -> Typed:
    """A count (stoves, slips, households, days), a whole-number cell."""
    return Typed(None if n is None else int(n), COUNT_FORMAT)


def ratio(part: int, whole: int) -> Typed | str:
    """`part` of `whole` as a percentage cell (0.0%), "—" without a whole (no target: no completion rate)."""
    if not whole:
        return "—"
    return Typed(Decimal(int(part)) / Decimal(int(whole)), "0.0%")


def share_bp(bp: int) -> Typed:
    """A share in basis points (5000 = 50%) as a percentage cell, without decimals when it is whole."""
    return Typed(Decimal(int(bp)).scaleb(-4), "0%" if bp % 100 == 0 else "0.00%")


def text(value) -> Typed:
    """Any value as a text cell (an ID number, a phone, a bank account: digits that are not a number)."""
    return Typed(None if value is None else str(value), TEXT_FORMAT)


def set_value(cell: Cell, value) -> Cell:
    """Put `value` into `cell`: a string as text whatever it starts with, a `Typed` value as a number (or text) with
    its format, anything else as openpyxl types it."""
    if isinstance(value, Typed):
        set_value(cell, value.value)
        if cell.value is not None:
            cell.number_format = value.number_format
        return cell
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


__all__ = ["Typed", "append", "cell", "count", "kg", "money", "put", "ratio", "set_value", "share_bp", "text",
           "tons"]
