"""Lists a page at a time, at a cost that does not grow with the table: the page sizes a user may choose, the sort
orders a list allows, keyset pages (cursors) and capped counts. Every list page and API list reads through `fetch`.

A sort key comes from the URL (`?sort=number`, `?sort=-issued_on` for descending). Each list names the keys it
allows and the column each sorts by (indexed columns only, each with an index ending in the row id: a sorted page
must not sort the whole table); any other key is ignored and the list keeps its default order, so a hand-edited URL
cannot make the page fail or sort on an unindexed column. The row id breaks ties in the same direction, so a page
boundary is stable. Sort columns are NOT NULL (a row value comparison with a NULL matches nothing).

A page is reached either by a cursor, the sort key values of the row it follows (`after`) or precedes (`before`),
which the database finds by the index whatever the page's depth (rows inserted meanwhile neither repeat nor vanish
from the pages still to come); or by a page number (OFFSET), bounded by MAX_PAGE, kept for the pager's jump and for
the API's `page=`. The cursor is opaque to users (base64 of JSON) and only validated, not signed: it carries no
right, the scope's criteria still apply to every row it can reach, and a value of the wrong type is refused.

Counting all matching rows is the expensive part of a list at a million rows (a parallel sequential scan), so a list
counts at most COUNT_CAP + 1 of them (`SELECT 1 ... LIMIT 10001`) and says "10,000+" beyond; an exact count is
computed on request, under a statement timeout on PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, select, text, tuple_
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from subsidy.core.errors import Refused

PAGE_SIZES = (20, 50, 100)
DEFAULT_PAGE_SIZE = 50
# Page numbers are OFFSETs: page 1,000 of 100 rows reads 100,000 rows first. Deeper is by cursor only.
MAX_PAGE = 1000
# Lists count this many rows at most, and show "10,000+" beyond.
COUNT_CAP = 10_000
# How long an exact count on request may take on PostgreSQL before the list says it could not count.
EXACT_COUNT_TIMEOUT_MS = 3000


def page_size(value: int | str | None) -> int:
    """The chosen page size if it is one of PAGE_SIZES, else the default."""
    try:
        size = int(value) if value not in (None, "") else DEFAULT_PAGE_SIZE
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def api_page_size(value: int | str | None) -> int:
    """The page size an API caller asked for: the default when absent, one of PAGE_SIZES, anything else refused by
    the field `per_page` (a program should hear that its size was not taken, rather than get another one)."""
    if value in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        size = None
    if size not in PAGE_SIZES:
        raise Refused("每页条数只能是 " + "、".join(str(n) for n in PAGE_SIZES), field="per_page")
    return size


def sort_key(value: str | None, allowed: Mapping[str, object], default: str) -> str:
    """`value` if it names an allowed key ("key" or "-key"), else `default`."""
    if value and value.lstrip("-") in allowed and value.count("-") <= 1 and not value.endswith("-"):
        return value
    return default


def order_by(key: str, allowed: Mapping[str, object], tiebreak) -> list:
    """ORDER BY clauses for an already checked `key` (see sort_key), the `tiebreak` column in the same direction."""
    return Order.of(key, allowed, key, tiebreak).clauses()


def page_number(value: int | str | None) -> int:
    """A page number from a URL or a form: 1 for anything missing or unreadable; above MAX_PAGE refused, pointing to
    the cursor (a deep OFFSET reads every row before it)."""
    try:
        number = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        return 1
    if number > MAX_PAGE:
        raise Refused(f"页码不能超过 {MAX_PAGE}：更靠后的记录请用“下一页”（接口用 next 游标 after=），或缩小筛选范围",
                      field="page")
    return max(1, number)


@dataclass(frozen=True)
class Order:
    """A list's order: its sort column, the row id that breaks ties, one direction for both."""
    key: str  # as in the URL: "number", "-issued_on"
    column: Any
    tiebreak: Any
    descending: bool

    @classmethod
    def of(cls, value: str | None, allowed: Mapping[str, object], default: str, tiebreak) -> "Order":
        key = sort_key(value, allowed, default)
        return cls(key, allowed[key.lstrip("-")], tiebreak, key.startswith("-"))

    @property
    def columns(self) -> list:
        return [self.column] if self.column is self.tiebreak else [self.column, self.tiebreak]

    def clauses(self, *, reverse: bool = False) -> list:
        down = self.descending != reverse
        return [c.desc() if down else c.asc() for c in self.columns]

    def beyond(self, values: list, *, reverse: bool = False):
        """The rows after the row whose sort key is `values` in this order (before it when `reverse`)."""
        key = tuple_(*self.columns)
        bound = tuple_(*[bindparam(None, v, type_=c.type) for c, v in zip(self.columns, values)])
        return key < bound if self.descending != reverse else key > bound


@dataclass
class Page:
    """One page of a list. `total` counts the matching rows up to COUNT_CAP; `total_capped` says there are more
    (the page then shows "10,000+"); `exact_failed` says an exact count was asked for and ran out of time. `page` is
    the page's number (known by number or carried in the cursor); `next`/`prev` are cursors, None at either end."""
    items: list
    per_page: int
    page: int = 1
    total: int | None = None
    total_capped: bool = False
    exact_failed: bool = False
    next: str | None = None
    prev: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int | None:
        """How many pages there are, when the total is known."""
        if self.total is None or self.total_capped:
            return None
        return max(1, (self.total + self.per_page - 1) // self.per_page)


def encode_cursor(page: int, values: list) -> str:
    raw = json.dumps([page, *[v.isoformat() if isinstance(v, (date, datetime)) else v for v in values]],
                     separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order, name: str = "after") -> tuple[int, list]:
    """The page number and sort key values in `cursor`, each checked against its column's type; anything else is
    refused by the field `name`."""
    bad = Refused("翻页位置无效，请回到第一页重新翻页", field=name)
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(raw, list) or len(raw) != len(order.columns) + 1:
        raise bad
    page, *values = raw
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise bad
    try:
        return page, [_typed(v, c) for v, c in zip(values, order.columns)]
    except (TypeError, ValueError):
        raise bad from None


def _typed(value, column):
    kind = column.type.python_type
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(value)
    if kind is str and not isinstance(value, str):
        raise TypeError(value)
    if not isinstance(value, (int, str)) or isinstance(value, bool):
        raise TypeError(value)
    return value


def _counted(stmt):
    """`stmt` reduced to SELECT 1 with its FROM and WHERE (and the scope's criteria, added at execution)."""
    return stmt.with_only_columns(literal(1), maintain_column_froms=True).order_by(None)


def _count_of(stmt, counted):
    """SELECT count(*) FROM `counted`, run as `stmt` is (its execution options: a subquery drops them, and an
    `unscoped` list must not be counted through the caller's scope)."""
    return select(func.count()).select_from(counted.subquery()).execution_options(**stmt.get_execution_options())


def capped_count(session: Session, stmt, cap: int | None = None) -> int:
    """How many rows `stmt` matches, counting at most cap + 1 of them (an index range read, not the table); `cap`
    is COUNT_CAP unless given, read at the call rather than at definition so a changed COUNT_CAP holds everywhere."""
    cap = COUNT_CAP if cap is None else cap
    return session.execute(_count_of(stmt, _counted(stmt).limit(cap + 1))).scalar_one()


def exact_count(session: Session, stmt, *, timeout_ms: int = EXACT_COUNT_TIMEOUT_MS) -> int | None:
    """How many rows `stmt` matches, or None if PostgreSQL could not count them within `timeout_ms`. The timeout is
    set in a savepoint, which is always rolled back: SET LOCAL ends with it, and the count wrote nothing."""
    query = _count_of(stmt, _counted(stmt))
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(query).scalar_one()
    savepoint = session.begin_nested()
    try:
        session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
        return session.execute(query).scalar_one()
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != "57014":  # query_canceled: the timeout
            raise
        return None
    finally:
        savepoint.rollback()


# Row ids are INTEGER: the largest, for a jump's edge past every row of one sort value.
_MAX_ID = 2**31 - 1


def fetch(session: Session, stmt, order: Order, *, per_page: int = DEFAULT_PAGE_SIZE, page: int = 1,
          after: str | None = None, before: str | None = None, at=None, count: bool | str = True,
          cap: int | None = None) -> Page:
    """A page of `stmt`'s rows in `order`: the page after the cursor `after`, before the cursor `before`, the page
    that begins at the sort value `at` (a jump: a date, a name), or else page number `page` (bounded by MAX_PAGE).
    Items are the statement's entities (one per row, or a tuple per row when it selects several). `count`: True a
    count capped at COUNT_CAP, "exact" an exact one with a time limit, False none (the pager then says only whether
    there is a next page). `cap`: where the capped count stops (COUNT_CAP unless the list says less)."""
    cap = COUNT_CAP if cap is None else cap
    per_page = min(max(1, int(per_page)), 1000)  # a user's choice is one of PAGE_SIZES (web/lists.py); exports read more
    width = len(stmt.column_descriptions)  # entities and columns as selected (an entity is one)
    keyed = stmt.add_columns(*[c.label(f"_k{i}") for i, c in enumerate(order.columns)])
    backwards = False
    if at is not None and not (after or before) and order.column is not order.tiebreak:
        # The first row at `at` or past it in the order's direction: beyond an edge that no row holds, (at, 0)
        # ascending, (at, the largest id) descending, by the same index as any cursor. Its page number counts the
        # rows before the edge (capped), as if pages were cut from there.
        edge = [at, _MAX_ID if order.descending else 0]
        ahead = min(capped_count(session, stmt.where(order.beyond(edge, reverse=True))), COUNT_CAP)
        number = -(-ahead // per_page) + 1
        query = keyed.where(order.beyond(edge)).order_by(*order.clauses())
        rows = list(session.execute(query.limit(per_page + 1)))
    elif after or before:
        number, values = decode_cursor(after or before, order, "after" if after else "before")
        backwards = not after
        number = number + 1 if after else max(1, number - 1)
        query = keyed.where(order.beyond(values, reverse=backwards)).order_by(*order.clauses(reverse=backwards))
        rows = list(session.execute(query.limit(per_page + 1)))
    else:
        number = page_number(page)
        query = keyed.order_by(*order.clauses()).offset((number - 1) * per_page)
        rows = list(session.execute(query.limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
        if not more:  # back at the start (rows inserted before it since included)
            number = 1
    items = [row[0] if width == 1 else tuple(row[:width]) for row in rows]
    result = Page(items, per_page, number)
    if rows:
        first, last = list(rows[0][width:]), list(rows[-1][width:])
        has_next = more if not backwards else True
        has_prev = more if backwards else number > 1
        result.next = encode_cursor(number, last) if has_next else None
        result.prev = encode_cursor(max(number, 2), first) if has_prev else None
    if count == "exact":
        result.total = exact_count(session, stmt)
        result.exact_failed = result.total is None
    if count and result.total is None:
        counted = capped_count(session, stmt, cap)
        result.total, result.total_capped = min(counted, cap), counted > cap
    return result
