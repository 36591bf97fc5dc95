"""Slips made directly, consistent with what issuing would have stored, to build months of data for the summary,
settlement and report tests (the selling use case lives in subsidy/sales/, another area)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.rules import numbers
from subsidy.models import (
    Household, Product, Registration, Season, Slip, SlipLine, SlipStatus, Summary, Supplier, User, Village,
)
from subsidy.rules.money import line_amount_fen, line_subsidy_fen
from subsidy.sales import issuing

_SEQ = itertools.count(1)
# A slip of a supplier without a contract in the town (data that only a direct insert can make) is priced at this.
_NO_CONTRACT_PRICE_FEN = 110000


def supplier(session: Session, code: str) -> Supplier:
    return session.execute(select(Supplier).where(Supplier.code == code)).scalar_one()


def user(session: Session, username: str) -> User:
    return session.execute(select(User).where(User.username == username)).scalar_one()


def approved_registrations(session: Session, village_code: str) -> list[Registration]:
    return list(session.execute(
        select(Registration).join(Village, Village.id == Registration.village_id)
        .where(Village.code == village_code, Registration.status == "approved").order_by(Registration.id)).scalars())


def make_slip(session: Session, *, supplier: Supplier, registration: Registration, issued_on: date,
              coal_kg: int = 0, stoves: int = 0, price_fen: int | None = None, status: str = SlipStatus.ISSUED,
              product: str = Product.BRIQUETTE) -> Slip:
    """An issued (or voided) slip with its lines, priced and subsidised on the terms a sale reads
    (`issuing.terms`, `line_subsidy_fen`) unless `price_fen` sets the price; the registration's sold quantities move
    as a sale would."""
    household = session.get(Household, registration.household_id)
    village = session.get(Village, registration.village_id)
    season = session.get(Season, registration.season_id)
    seq = next(_SEQ)
    slip = Slip(number=numbers.slip_number(f"{supplier.slip_prefix}{season.code}", seq), seq=seq,
                supplier_id=supplier.id, season_id=season.id, registration_id=registration.id,
                household_id=household.id, town_id=village.town_id, village_id=village.id, status=status,
                issued_at=clock.now(), issued_on=issued_on, head_name=household.head_name,
                id_number=household.id_number, phone=household.phone, address=household.address,
                category=household.category, coal_kg=coal_kg, stoves=stoves)
    if status == SlipStatus.VOIDED:
        slip.void_reason, slip.voided_at = "测试作废", clock.now()
    session.add(slip)
    session.flush()
    terms = issuing.terms(session, supplier_id=supplier.id, registration_id=registration.id)
    lines = []
    if coal_kg:
        lines.append((product, coal_kg, True))
    if stoves:
        lines.append((Product.STOVE, stoves, False))
    for line_no, (prod, quantity, per_ton) in enumerate(lines, start=1):
        price = price_fen if price_fen is not None else terms.prices.get(prod, _NO_CONTRACT_PRICE_FEN)
        amount = line_amount_fen(quantity, price, per_ton)
        subsidy = line_subsidy_fen(amount, quantity, terms.tiers[prod], per_ton=per_ton,
                                   already_kg=registration.sold_coal_kg)
        session.add(SlipLine(slip_id=slip.id, line_no=line_no, product=prod, quantity=quantity,
                             unit_price_fen=price, amount_fen=amount, subsidy_fen=subsidy))
        slip.amount_fen += amount
        slip.subsidy_fen += subsidy
    if status == SlipStatus.ISSUED:
        session.execute(update(Registration).where(Registration.id == registration.id).values(
            sold_coal_kg=Registration.sold_coal_kg + coal_kg, sold_stoves=Registration.sold_stoves + stoves))
    session.flush()
    return slip


def past_season_with_a_sale(session: Session, kg: int = 1500, *, coal_kg: int = 3000):
    """A season a year before the active one ("上一采暖季"), in which the first approved dongguan household (approved
    again there for `coal_kg`) bought `kg`; returns (season, registration, slip). The caller commits."""
    from tests.factories.accounts import season as make_season

    active = session.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
    last = make_season(session, name="上一采暖季", code="LAST",
                       starts_on=(active.starts_on - timedelta(days=365)).isoformat(),
                       ends_on=(active.starts_on - timedelta(days=200)).isoformat())
    current = approved_registrations(session, "dongguan")[0]
    registration = Registration(household_id=current.household_id, season_id=last.id, village_id=current.village_id,
                                coal_kg=coal_kg, stoves=0, status="approved")
    session.add(registration)
    session.flush()
    slip = make_slip(session, supplier=supplier(session, "coal-a"), registration=registration,
                     issued_on=last.starts_on, coal_kg=kg)
    return last, registration, slip


def allow_early(engine, *summary_ids: int, username: str = "drc") -> None:
    """The bureau lets the supplier submit these summaries before their month ends (the scenarios that run this
    month through the review chain; the rule itself is tested in tests/services/settlement/test_early_submission.py)."""
    from subsidy.core import db
    from subsidy.core.scope import Scope
    from subsidy.settlement import summaries

    with db.new_session(engine) as s:
        reviewer = user(s, username)
    with db.transaction(engine, scope=Scope.of(reviewer)) as s:
        for summary_id in summary_ids:
            if summaries.awaits_month_end(s.get(Summary, summary_id)):
                summaries.allow_early(s, reviewer=reviewer, summary_id=summary_id)
