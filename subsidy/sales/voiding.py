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


from sqlalchemy import select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock
from subsidy.supply import batches
from subsidy.core.errors import Conflict, NotAllowed, SubsidyError
from subsidy.models import (
    HouseholdStove, Registration, Role, Slip, SlipLine, SlipStatus, Summary, User,
)
from subsidy.sales.slips import VOIDABLE_SUMMARY, get_by_number, lines_of
from subsidy.rules.text import clean_text


# ---------------------------------------------------------------------------------------------------------------------
# Voiding
# ---------------------------------------------------------------------------------------------------------------------

def void_slip(session: Session, *, user: User, number: str, reason: str) -> Slip:
    """Void a slip with a reason while its summary is not town-approved: gives back the household's quantities, the
    batch stock and the household's stove. Never deletes. The stove's serial is free to be sold again."""
    if user.role != Role.SUPPLIER:
        raise NotAllowed("只有开具销售单的配送企业可以作废")
    reason = clean_text(reason, "reason", 200, label="作废原因")
    slip = get_by_number(session, number)
    if not reason:
        raise SubsidyError("请填写作废原因", field="reason")
    if slip.summary_id is not None:
        # Lock the summary so a town approval cannot slip in between this check and the void.
        status = session.execute(select(Summary.status).where(Summary.id == slip.summary_id).with_for_update()
                                 .execution_options(unscoped=True)).scalar()
        if status not in VOIDABLE_SUMMARY:
            raise Conflict("该销售单所在的月度汇总已经街道/镇审核，不能作废", field="number")
    before = audit.snapshot(slip)
    now = clock.now()
    changed = session.execute(
        update(Slip).where(Slip.id == slip.id, Slip.status == SlipStatus.ISSUED)
        .values(status=SlipStatus.VOIDED, void_reason=reason, voided_at=now, voided_by=user.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("该销售单已经作废", field="number")
    session.execute(update(Registration).where(Registration.id == slip.registration_id)
                    .values(sold_coal_kg=Registration.sold_coal_kg - slip.coal_kg,
                            sold_stoves=Registration.sold_stoves - slip.stoves)
                    .execution_options(synchronize_session=False))
    for ln in lines_of(session, slip):
        if ln.batch_id:
            batches.return_stock(session, ln.batch_id, ln.quantity)
    session.execute(update(HouseholdStove).where(HouseholdStove.slip_id == slip.id, HouseholdStove.active_key == 0)
                    .values(active_key=HouseholdStove.id).execution_options(synchronize_session=False))
    # The stove goes back to the supplier: its serial may be sold again.
    session.execute(update(SlipLine).where(SlipLine.slip_id == slip.id, SlipLine.active_key == 0)
                    .values(active_key=SlipLine.id).execution_options(synchronize_session=False))
    session.refresh(slip)
    audit.record(session, user, "slip.void", slip, before=before)
    return slip


