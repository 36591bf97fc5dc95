"""Voiding a slip: the supplier that issued it takes it back, with a reason, while the month's summary it sits in
has not been approved by the town (DESIGN.md, "Workflows").

A void gives back everything the sale took (the household's quantities, the batch's stock, the household's one stove,
the stove's serial) by conditional UPDATEs, and deletes nothing: the voided slip stays, with its reason, as evidence.
The summary is locked while it is checked, so a town approval cannot land between the check and the void.
"""

from __future__ import annotations


from sqlalchemy import select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock
from subsidy.policy import seasons
from subsidy.supply import batches
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.models import (
    HouseholdStove, Registration, Role, Slip, SlipLine, SlipStatus, Summary, User,
)
from subsidy.sales.slips import ALREADY_VOIDED, get_by_number, lines_of, summary_void_refusal
from subsidy.settlement import summaries
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
        raise Refused("请填写作废原因", field="reason")
    seasons.lock_open(session, slip.season_id)  # a closed season's slips stand as they were closed
    if slip.summary_id is not None:
        # Lock the summary so a town approval cannot slip in between this check and the void.
        status = session.execute(select(Summary.status).where(Summary.id == slip.summary_id).with_for_update()
                                 .execution_options(unscoped=True)).scalar()
        refusal = summary_void_refusal(status)
        if refusal:
            raise Conflict(refusal, field="number")
    before = audit.snapshot(slip)
    now = clock.now()
    changed = session.execute(
        update(Slip).where(Slip.id == slip.id, Slip.status == SlipStatus.ISSUED)
        .values(status=SlipStatus.VOIDED, void_reason=reason, voided_at=now, voided_by=user.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(ALREADY_VOIDED, field="number")
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
    if slip.summary_id is not None:
        # Its summary's totals follow at once (invariant 7): a reviewer never sees, nor approves, a voided slip's
        # figures. The summary row is already locked above, against a concurrent approval.
        summaries.recompute_totals(session, session.execute(
            select(Summary).where(Summary.id == slip.summary_id).execution_options(unscoped=True)).scalar_one())
    audit.record(session, user, "slip.void", slip, before=before)
    return slip


