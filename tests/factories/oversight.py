"""Oversight factories: households on one phone or address, clerks, and slips planted at chosen moments (the anomaly
rules read what is stored; issuing them through the counter would take the clock and the contracts along)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import select

from subsidy.core import clock
from subsidy.models import Delivery, Household, Role, Slip, SlipScan, SlipStatus, User, Village
from subsidy.policy import seasons
from tests.factories import sales as f

_seq = itertools.count(900_000)


def households(session, n: int, *, village_code: str = "dongguan", phone: str | None = None,
               address: str | None = None, addresses: list[str] | None = None) -> list[Household]:
    """`n` new households with approved registrations, sharing `phone` and `address` when given (`addresses`: one
    each)."""
    made = []
    for i in range(n):
        h, _ = f.household(session, village_code)
        if phone is not None:
            h.phone = phone
        if addresses is not None:
            h.address = addresses[i]
        elif address is not None:
            h.address = address
        made.append(h)
    session.flush()
    return made


def clerk(session, username: str, supplier_code: str = "coal-a") -> User:
    user = User(username=username, display_name=username, role=Role.SUPPLIER,
                supplier_id=f.supplier(session, supplier_code).id, password_hash="!")
    session.add(user)
    session.flush()
    return user


def slip(session, household: Household, clerk_: User, at: datetime, *, status: str = SlipStatus.ISSUED,
         scanned: tuple[int, ...] = (), delivered_on=None) -> Slip:
    """A slip sold to `household` by `clerk_` at `at` (UTC), voided when `status` says so, with its `scanned`
    copies recorded and its delivery on `delivered_on` when given."""
    season = seasons.active_season(session)
    village = session.get(Village, household.village_id)
    registration_id = session.execute(select(f.Registration.id).where(
        f.Registration.household_id == household.id)).scalar_one()
    seq = next(_seq)
    s = Slip(number=f"T{seq}", seq=seq, supplier_id=clerk_.supplier_id, season_id=season.id,
             registration_id=registration_id, household_id=household.id, town_id=village.town_id,
             village_id=village.id, status=status, issued_at=at, issued_on=clock.local(at).date(),
             issued_by=clerk_.id, head_name=household.head_name, id_number=household.id_number,
             phone=household.phone, address=household.address, category=household.category, coal_kg=1000,
             amount_fen=100_000, subsidy_fen=30_000,
             voided_at=at if status == SlipStatus.VOIDED else None, void_reason="测试" if status == SlipStatus.VOIDED else "")
    session.add(s)
    session.flush()
    for copy in scanned:
        session.add(SlipScan(slip_id=s.id, copy_no=copy))
    if delivered_on is not None:
        session.add(Delivery(slip_id=s.id, supplier_id=s.supplier_id, town_id=s.town_id, delivered_on=delivered_on,
                             receiver=household.head_name[:40]))
    session.flush()
    return s
