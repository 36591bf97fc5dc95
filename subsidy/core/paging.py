"""Lists a page at a time: the page sizes a user may choose and the sort orders a list allows.

A sort key comes from the URL (`?sort=number`, `?sort=-issued_on` for descending). Each list names the keys it
allows and the column each sorts by (indexed columns only: a sorted page must not sort the whole table); any other
key is ignored and the list keeps its default order, so a hand-edited URL cannot make the page fail or sort on an
unindexed column. The row id breaks ties in the same direction, so a page boundary is stable.
"""

from __future__ import annotations

from collections.abc import Mapping

PAGE_SIZES = (20, 50, 100)
DEFAULT_PAGE_SIZE = 50


def page_size(value: int | str | None) -> int:
    """The chosen page size if it is one of PAGE_SIZES, else the default."""
    try:
        size = int(value) if value not in (None, "") else DEFAULT_PAGE_SIZE
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def sort_key(value: str | None, allowed: Mapping[str, object], default: str) -> str:
    """`value` if it names an allowed key ("key" or "-key"), else `default`."""
    if value and value.lstrip("-") in allowed and value.count("-") <= 1 and not value.endswith("-"):
        return value
    return default


def order_by(key: str, allowed: Mapping[str, object], tiebreak) -> list:
    """ORDER BY clauses for an already checked `key` (see sort_key), the `tiebreak` column in the same direction."""
    column = allowed[key.lstrip("-")]
    if key.startswith("-"):
        return [column.desc(), tiebreak.desc()]
    return [column.asc(), tiebreak.asc()]
