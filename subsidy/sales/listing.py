"""Lists of slips in the caller's scope, of one season (the one chosen, else the active one): filtered by day, month,
town, status, household, buyer's name or slip number, newest first (or by number) a page at a time, and the same
list as a spreadsheet streamed row by row (ID numbers masked unless the role keeps them whole), with each slip's
delivery to the household (the day, who received it, the days since issue). The delivery is read as the plain table
it is (`delivery`: slip_id unique, delivered_on, receiver; subsidy/delivery owns it and may import this package, not
the other way round), by an outer join on its unique index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import clock, paging
from subsidy.policy import seasons
from subsidy.core.scope import Record, show_id
from subsidy.core.errors import NotFound
from subsidy.models import (
    Delivery, Season, Slip, SlipStatus, Town, User, Village,
)
from subsidy.rules.delivery import days_since_issue
from subsidy.rules.months import month_bounds, parse_month


PER_PAGE = paging.DEFAULT_PAGE_SIZE
# The orders a list of slips may be read in: indexed columns only (number: its unique index; issued_on: the
# supplier's and the town's (…, issued_on, id) indexes).
SORTS = {"issued_on": Slip.issued_on, "number": Slip.number}
DEFAULT_SORT = "-issued_on"
# ---------------------------------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class SlipFilter:
    # The season listed: a past one for an auditor, None for the active one (`in_season` decides it).
    season_id: int | None = None
    day: date | None = None
    month: str | None = None  # YYYY-MM
    town_id: int | None = None
    status: str | None = None
    household_id: int | None = None
    # The buyer's name as on the slip, whole (equality on ix_slip_head_name: a name is short, and a prefix of one
    # or two characters would match a good part of a district anyway).
    buyer: str | None = None
    # A slip number or the beginning of one (TS21A-000123): a range on the unique index of the numbers, not a LIKE.
    number: str | None = None

    def in_season(self, session: Session) -> "SlipFilter":
        """This filter with its season decided: the one asked for, else the active one (NotFound for an unknown
        season; no season at all lists nothing)."""
        if self.season_id is not None:
            if session.get(Season, self.season_id) is None:
                raise NotFound()
            return self
        active = seasons.active_season_or_none(session)
        return replace(self, season_id=active.id if active else 0)

    def conditions(self) -> list:
        cond = [] if self.season_id is None else [Slip.season_id == self.season_id]
        if self.buyer:
            cond.append(Slip.head_name == self.buyer)
        if self.number:
            cond += number_prefix(self.number)
        if self.day:
            cond.append(Slip.issued_on == self.day)
        if self.month:
            first, last = month_bounds(parse_month(self.month))
            cond += [Slip.issued_on >= first, Slip.issued_on <= last]
        if self.town_id:
            cond.append(Slip.town_id == self.town_id)
        if self.status:
            cond.append(Slip.status == self.status)
        if self.household_id:
            cond.append(Slip.household_id == self.household_id)
        return cond


def number_prefix(typed: str) -> list:
    """The slips whose number is `typed` or begins with it, as a range (number >= typed AND number < the next
    string of that length) that both databases read from the unique index. Slip numbers are ASCII letters, digits and
    hyphens (rules/numbers.py: slip_number), which sort by code point in SQLite and in the C collation of the
    database; anything else typed finds nothing."""
    typed = typed.strip().upper()
    if not typed or not all(c.isascii() and (c.isalnum() or c == "-") for c in typed):
        return [Slip.id.is_(None)]  # matches no slip
    return [Slip.number >= typed, Slip.number < typed[:-1] + chr(ord(typed[-1]) + 1)]


def list_slips(session: Session, flt: SlipFilter, *, sort: str | None = None, **page) -> paging.Page:
    """A page of the slips in scope that pass `flt` (paging.fetch's `page`, `after`, `before`, `per_page`,
    `count`). `sort`: a key of SORTS ("-key" descending); any other is ignored (newest first)."""
    order = paging.Order.of(sort, SORTS, DEFAULT_SORT, Slip.id)
    return paging.fetch(session, select(Slip).where(*flt.in_season(session).conditions()), order, **page)


def iter_slips(session: Session, flt: SlipFilter) -> Iterator[Slip]:
    stmt = (select(Slip).where(*flt.in_season(session).conditions()).order_by(Slip.issued_on, Slip.id)
            .execution_options(yield_per=1000))
    yield from session.execute(stmt).scalars()


def iter_slips_delivered(session: Session, flt: SlipFilter) -> Iterator[tuple[Slip, date | None, str | None]]:
    """The slips of `iter_slips`, each with its delivery's day and receiver (None, None: not delivered)."""
    stmt = (select(Slip, Delivery.delivered_on, Delivery.receiver).outerjoin(Delivery, Delivery.slip_id == Slip.id)
            .where(*flt.in_season(session).conditions()).order_by(Slip.issued_on, Slip.id)
            .execution_options(yield_per=1000))
    yield from session.execute(stmt)


def export_xlsx(session: Session, flt: SlipFilter, *, viewer: User | None = None) -> bytes:
    """The list as a spreadsheet (openpyxl write_only, streamed). ID numbers as a list shows them to `viewer`
    (subsidy.core.scope.WHOLE_FOR). The delivery: its day a date cell (empty while not delivered), the receiver's
    name a text cell, the days since issue a number (until delivery, or until today; empty for a voided slip never
    delivered)."""
    import io

    from openpyxl import Workbook

    from subsidy.core import sheets
    from subsidy.models import CATEGORY_LABELS, SLIP_STATUS_LABELS

    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())
    villages = dict(session.execute(select(Village.id, Village.name).execution_options(unscoped=True)).all())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("销售单")
    sheets.append(ws, ["销售单号", "开具日期", "街道/镇", "村(社区)", "户主姓名", "身份证号码", "户类别", "洁净煤(吨)",
                       "炉具(台)", "金额(元)", "补贴(元)", "用户支付(元)", "状态", "作废原因", "配送到户",
                       "送达日期", "签收人", "开单后天数"])
    today = clock.today()
    for s, delivered_on, receiver in iter_slips_delivered(session, flt):
        days = days_since_issue(s.issued_on, delivered_on, today, voided=s.status == SlipStatus.VOIDED)
        delivered = "已送达" if delivered_on else ("未送达" if days is not None else "—")
        sheets.append(ws, [s.number, s.issued_on, towns.get(s.town_id, ""), villages.get(s.village_id, ""),
                           s.head_name, sheets.text(show_id(viewer, Record.LISTING, s.id_number)),
                           CATEGORY_LABELS.get(s.category, s.category), sheets.tons(s.coal_kg),
                           sheets.count(s.stoves), sheets.money(s.amount_fen), sheets.money(s.subsidy_fen),
                           sheets.money(s.household_pays_fen), SLIP_STATUS_LABELS.get(s.status, s.status),
                           s.void_reason, delivered, delivered_on, sheets.text(receiver), sheets.count(days)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
