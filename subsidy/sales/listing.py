"""Five-copy sales slips: issuing (every check of DESIGN.md), voiding, scanning the paper copies, lists.

Invariant 2 (a household never gets more than its approved registration or the season caps) is held by the database:
`registration.sold_*` only move by conditional UPDATEs (`WHERE sold + :q <= limit`) backed by CHECK constraints; a
batch's stock the same way; a household's one stove by the unique `household_stove(household_id, active_key)`; a stove
serial by the unique `slip_line(serial, active_key)` (released when the slip is voided). Slip numbers come from `slip_counter` incremented by an UPDATE in the issuing
transaction, which locks the counter row on PostgreSQL (SQLite: BEGIN IMMEDIATE), so they are unique and gapless.

Lock order in a sale (the same in every transaction, so no deadlocks): registration → batches → counter → inserts →
audit head (at commit). Everything the sale checks is read before the first lock so that locks are held briefly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.core.errors import SubsidyError
from subsidy.rules.idnumbers import mask_id_number
from subsidy.models import (
    Slip, Town,
)
from subsidy.rules.money import tons, yuan


PER_PAGE = 50
# ---------------------------------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class SlipFilter:
    day: date | None = None
    month: str | None = None  # YYYY-MM
    town_id: int | None = None
    status: str | None = None
    household_id: int | None = None

    def conditions(self) -> list:
        cond = []
        if self.day:
            cond.append(Slip.issued_on == self.day)
        if self.month:
            try:
                year, mon = (int(x) for x in self.month.split("-"))
                first = date(year, mon, 1)
            except ValueError:
                raise SubsidyError("月份格式应为 YYYY-MM", field="month") from None
            nxt = date(year + (mon == 12), mon % 12 + 1, 1)
            cond += [Slip.issued_on >= first, Slip.issued_on < nxt]
        if self.town_id:
            cond.append(Slip.town_id == self.town_id)
        if self.status:
            cond.append(Slip.status == self.status)
        if self.household_id:
            cond.append(Slip.household_id == self.household_id)
        return cond


def list_slips(session: Session, flt: SlipFilter, page: int = 1) -> tuple[list[Slip], int]:
    cond = flt.conditions()
    total = session.execute(select(func.count()).select_from(Slip).where(*cond)).scalar_one()
    rows = list(session.execute(select(Slip).where(*cond).order_by(Slip.issued_on.desc(), Slip.id.desc())
                                .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).scalars())
    return rows, total


def iter_slips(session: Session, flt: SlipFilter) -> Iterator[Slip]:
    stmt = select(Slip).where(*flt.conditions()).order_by(Slip.issued_on, Slip.id).execution_options(yield_per=1000)
    yield from session.execute(stmt).scalars()


def export_xlsx(session: Session, flt: SlipFilter, *, show_full_ids: bool = False) -> bytes:
    """The list as a spreadsheet (openpyxl write_only, streamed). ID numbers masked unless the role keeps them."""
    import io

    from openpyxl import Workbook

    from subsidy.core import sheets
    from subsidy.models import CATEGORY_LABELS, SLIP_STATUS_LABELS

    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("销售单")
    sheets.append(ws, ["销售单号", "开具日期", "街道/镇", "户主姓名", "身份证号码", "户类别", "洁净煤(吨)", "炉具(台)",
                       "金额(元)", "补贴(元)", "用户支付(元)", "状态", "作废原因"])
    for s in iter_slips(session, flt):
        sheets.append(ws, [s.number, s.issued_on, towns.get(s.town_id, ""), s.head_name,
                           s.id_number if show_full_ids else mask_id_number(s.id_number),
                           CATEGORY_LABELS.get(s.category, s.category), tons(s.coal_kg), s.stoves, yuan(s.amount_fen),
                           yuan(s.subsidy_fen), yuan(s.household_pays_fen), SLIP_STATUS_LABELS.get(s.status, s.status),
                           s.void_reason])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
