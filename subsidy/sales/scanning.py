"""The offices' paper copies: the town, the DRC and finance each receive one copy of every slip (copies 3, 4 and 5)
and scan its barcode when the paper arrives, so a slip whose copy never reached an office shows up before the month
is settled.

A scan is recorded once per slip and copy (the unique `slip_scan(slip_id, copy_no)` decides two scans racing); an
office may record only its own copy and never a voided slip. `missing_copies` lists the issued slips an office still
lacks.
"""

from __future__ import annotations


from sqlalchemy import and_, exists, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging
from subsidy.core.db import is_unique_violation
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.models import (
    COPIES, COPY_OF_OFFICE, Role, Slip, SlipScan, SlipStatus, User,
)
from subsidy.rules.numbers import InvalidSlipNumber, parse_copy_code


# ---------------------------------------------------------------------------------------------------------------------
# Scanning the paper copies
# ---------------------------------------------------------------------------------------------------------------------

class WrongOffice(NotAllowed):
    """The copy scanned is another office's (each office keeps one of the five)."""


class AlreadyScanned(Conflict):
    """This office has recorded that copy already."""


class VoidedSlip(Refused):
    """The slip was voided: its paper copies are no longer evidence of a sale."""


def office_copy(user: User) -> int:
    copy = COPY_OF_OFFICE.get(Role(user.role))
    if copy is None:
        raise NotAllowed("只有街道/镇、区发改局和区财政局登记收到的联次")
    return copy


def record_scan(session: Session, *, user: User, code: str) -> tuple[Slip, SlipScan]:
    """Record that the caller's office holds its copy of a slip (code `NUMBER-COPY` from the barcode)."""
    mine = office_copy(user)
    try:
        number, copy = parse_copy_code(code)
    except InvalidSlipNumber as error:
        raise Refused(str(error), field="code") from None
    slip = session.execute(select(Slip).where(Slip.number == number)).scalar_one_or_none()
    if slip is None:
        raise NotFound("未找到该销售单，或不在您的管辖范围内")
    if copy != mine:
        raise WrongOffice(f"这是第{copy}联（{COPIES[copy][0]}），不是本单位的联次：本单位应收第{mine}联（{COPIES[mine][0]}）")
    if slip.status == SlipStatus.VOIDED:
        raise VoidedSlip(f"销售单 {slip.number} 已作废（{slip.void_reason}），不能登记", field="code")
    if session.execute(select(SlipScan.id).where(SlipScan.slip_id == slip.id, SlipScan.copy_no == copy)).first():
        raise AlreadyScanned(f"销售单 {slip.number} 的第{copy}联已经登记过", field="code")
    scan = SlipScan(slip_id=slip.id, copy_no=copy, scanned_by=user.id, scanned_at=clock.now())
    session.add(scan)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        raise AlreadyScanned(f"销售单 {slip.number} 的第{copy}联已经登记过", field="code") from None
    audit.record(session, user, "slip.scan", scan)
    return slip, scan


MISSING_SORTS = {"issued_on": Slip.issued_on, "number": Slip.number}


def missing_copies(session: Session, *, user: User, sort: str | None = None, **page) -> paging.Page:
    """Issued slips in the caller's scope whose copy this office has not recorded yet, oldest first (paging.fetch's
    keyword arguments)."""
    copy = office_copy(user)
    # The status as a literal: the partial index ix_slip_issued_day (status = 'issued') serves the list only where
    # the database sees the value when it plans (a bound parameter it cannot compare with the index's condition).
    cond = and_(Slip.status == literal_column(f"'{SlipStatus.ISSUED.value}'"),
                ~exists().where(SlipScan.slip_id == Slip.id, SlipScan.copy_no == copy))
    order = paging.Order.of(sort, MISSING_SORTS, "issued_on", Slip.id)
    return paging.fetch(session, select(Slip).where(cond), order, **page)


