"""A slip as it was written, read back: found by its number in the caller's scope (a mistyped number is not found),
with its lines, its batches and the copies the offices have scanned; `SlipView` is what the detail and print pages
show and `as_json` what the API answers.

Apart from issuing so that voiding, scanning and the pages read a slip the same way without importing the hot path.
`VOIDABLE_SUMMARY` lives here because both the view (may this slip still be voided?) and the void itself ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import people
from subsidy.core.errors import NotFound
from subsidy.policy import seasons
from subsidy.models import (
    COAL_PRODUCTS, Batch, Slip, SlipLine, SlipScan, SlipStatus, Summary, SummaryStatus, Supplier, Town, User, Village,
)
from subsidy.rules.money import rate_label, yuan_in_capitals
from subsidy.rules.numbers import InvalidSlipNumber, check_slip_number


VOIDABLE_SUMMARY = {SummaryStatus.DRAFT, SummaryStatus.RETURNED, SummaryStatus.SUBMITTED}

ALREADY_VOIDED = "该销售单已经作废"
# Why a slip in a summary past the town's approval cannot be voided, by the summary's status: the void page says it
# instead of offering the form, and the void itself refuses with the same words.
SUMMARY_BLOCKS_VOID = {
    SummaryStatus.TOWN_APPROVED: "该销售单所在的月度汇总已经街道/镇审核，不能作废",
    SummaryStatus.DRC_APPROVED: "该销售单所在的月度汇总已经区发改局审核，不能作废",
    SummaryStatus.FINANCE_APPROVED: "该销售单所在的月度汇总已经财政局审核、进入结算，不能作废",
}


def summary_void_refusal(summary_status: str | None) -> str | None:
    """Why a slip whose summary is in that status cannot be voided, or None when it can."""
    if summary_status is None or summary_status in VOIDABLE_SUMMARY:
        return None
    return SUMMARY_BLOCKS_VOID.get(summary_status, SUMMARY_BLOCKS_VOID[SummaryStatus.TOWN_APPROVED])

# ---------------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------------

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
    rates: dict[str, str]  # product of a line -> the season's subsidy rate for the household's category, as printed

    @property
    def total_in_capitals(self) -> str:
        """The slip's amount in Chinese capitals (金额大写), without the 人民币 before it."""
        return yuan_in_capitals(self.slip.amount_fen)

    @property
    def address(self) -> str:
        """Town, village and the household's address, without saying the town or the village twice when the typed
        address already starts with them ("东关村1组1号" in 东关村 prints as 财源街道东关村1组1号)."""
        return full_address(self.town.name, self.village.name, self.slip.address)

    @property
    def failed_batches(self) -> list[Batch]:
        """The batches of its coal that a government spot check has since failed (and frozen): the slip stays valid
        (the household bought in good faith) and the town arranges an exchange (置换, seed 001)."""
        return sorted((b for b in self.batches.values() if b.frozen_at is not None), key=lambda b: b.id)

    @property
    def void_refusal(self) -> str | None:
        """Why this slip can no longer be voided (already voided, or its summary approved by the town or later and
        so on its way to, or in, a settlement), or None while it can."""
        if self.slip.status != SlipStatus.ISSUED:
            return ALREADY_VOIDED
        return summary_void_refusal(self.summary_status)

    @property
    def voidable(self) -> bool:
        return self.void_refusal is None


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
    tiers = seasons.rate_table(session, slip.season_id)
    rates = {}
    for ln in lines:
        steps = tiers.get((ln.product, slip.category), [])
        rates[ln.product] = rate_label([(t.from_kg, t.rate_fen) for t in steps], per_ton=ln.product in COAL_PRODUCTS)
    summary_status = session.execute(select(Summary.status).where(Summary.id == slip.summary_id)
                                     .execution_options(unscoped=True)).scalar() if slip.summary_id else None
    return SlipView(slip, lines, batches, scans_of(session, slip), one(Supplier, slip.supplier_id),
                    one(Town, slip.town_id), one(Village, slip.village_id),
                    people.name_of(clerk) if clerk else "", summary_status, rates)


def full_address(town: str, village: str, address: str) -> str:
    """The address as printed: the region names are prefixed only where the typed address does not already start
    with them."""
    address = (address or "").strip()
    if address.startswith(town):
        return address
    if address.startswith(village):
        return town + address
    return f"{town}{village}{address}"
