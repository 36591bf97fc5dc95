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

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core.errors import NotFound, Refused
from subsidy.models import (
    Batch, Slip, SlipLine, SlipScan, SlipStatus, Summary, SummaryStatus, Supplier, Town, User, Village,
)
from subsidy.rules.numbers import InvalidSlipNumber, check_slip_number


VOIDABLE_SUMMARY = {SummaryStatus.DRAFT, SummaryStatus.RETURNED, SummaryStatus.SUBMITTED}

# ---------------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------------

def normalise_number(number: str) -> str:
    try:
        return check_slip_number(number)
    except InvalidSlipNumber as error:
        raise Refused(str(error), field="number") from None


def get_by_number(session: Session, number: str, *, for_update: bool = False) -> Slip:
    """The slip in the session's scope, or NotFound (also for a mistyped number: its check character fails)."""
    try:
        number = check_slip_number(number)
    except InvalidSlipNumber:
        raise NotFound() from None
    stmt = select(Slip).where(Slip.number == number).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    slip = session.execute(stmt).scalar_one_or_none()
    if slip is None:
        raise NotFound()
    return slip


def lines_of(session: Session, slip: Slip) -> list[SlipLine]:
    return list(session.execute(select(SlipLine).where(SlipLine.slip_id == slip.id).order_by(SlipLine.line_no))
                .scalars())


def scans_of(session: Session, slip: Slip) -> dict[int, SlipScan]:
    return {s.copy_no: s for s in session.execute(select(SlipScan).where(SlipScan.slip_id == slip.id)).scalars()}


@dataclass
class SlipView:
    slip: Slip
    lines: list[SlipLine]
    batches: dict[int, Batch]
    scans: dict[int, SlipScan]
    supplier: Supplier
    town: Town
    village: Village
    clerk_name: str
    summary_status: str | None

    @property
    def voidable(self) -> bool:
        return self.slip.status == SlipStatus.ISSUED and (self.summary_status is None
                                                          or self.summary_status in VOIDABLE_SUMMARY)


def view(session: Session, slip: Slip) -> SlipView:
    """Everything the detail and print pages show (related rows read unscoped: the slip itself was scope-checked)."""
    def one(model, ident):
        return session.execute(select(model).where(model.id == ident).execution_options(unscoped=True)).scalar_one()

    lines = lines_of(session, slip)
    batch_ids = {ln.batch_id for ln in lines if ln.batch_id}
    batches = {b.id: b for b in session.execute(select(Batch).where(Batch.id.in_(batch_ids))
                                                .execution_options(unscoped=True)).scalars()} if batch_ids else {}
    clerk = session.execute(select(User.display_name, User.username).where(User.id == slip.issued_by)
                            .execution_options(unscoped=True)).first() if slip.issued_by else None
    summary_status = session.execute(select(Summary.status).where(Summary.id == slip.summary_id)
                                     .execution_options(unscoped=True)).scalar() if slip.summary_id else None
    return SlipView(slip, lines, batches, scans_of(session, slip), one(Supplier, slip.supplier_id),
                    one(Town, slip.town_id), one(Village, slip.village_id),
                    (clerk.display_name or clerk.username) if clerk else "", summary_status)
