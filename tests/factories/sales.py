"""Slips factories: the demo's users and registrations by name, and fresh households with approved registrations."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from subsidy.policy import seasons
from subsidy.rules.idnumbers import make_id_number
from subsidy.models import (
    Batch, Household, Registration, RegistrationStatus, Supplier, User, Village,
)

_serial = itertools.count(1)


def user(session, username: str) -> User:
    return session.execute(select(User).where(User.username == username)).scalar_one()


def village(session, code: str) -> Village:
    return session.execute(select(Village).where(Village.code == code)).scalar_one()


def supplier(session, code: str) -> Supplier:
    return session.execute(select(Supplier).where(Supplier.code == code)).scalar_one()


def household(session, village_code: str = "dongguan", *, coal_kg: int = 3000, stoves: int = 1,
              category: str = "ordinary", status: str = RegistrationStatus.APPROVED, head_name: str = "测试户主"):
    """A new household in that village with a registration for the active season; returns (household, registration)."""
    v = village(session, village_code)
    season = seasons.active_season(session)
    n = next(_serial)
    h = Household(village_id=v.id, head_name=head_name,
                  id_number=make_id_number("370911", date(1950 + n % 40, n % 12 + 1, n % 28 + 1), f"{n % 1000:03d}"),
                  phone=f"1370000{n:04d}", address=f"{v.name}测试{n}号", category=category)
    session.add(h)
    session.flush()
    r = Registration(household_id=h.id, season_id=season.id, village_id=v.id, coal_kg=coal_kg, stoves=stoves,
                     status=status)
    session.add(r)
    session.flush()
    return h, r


def batch(session, supplier_code: str = "coal-a", *, quantity_kg: int = 100_000, passed: bool = True,
          product: str = "briquette", report_no: str = "JC-TEST", arrival_date: date | None = None) -> Batch:
    season = seasons.active_season(session)
    b = Batch(supplier_id=supplier(session, supplier_code).id, season_id=season.id, product=product,
              quantity_kg=quantity_kg, report_no=report_no, lab="测试检验所", volatile_cpct=900, sulfur_cpct=30,
              ash_cpct=1500, calorific_kj_kg=25000, passed=passed, arrival_date=arrival_date,
              failed_reasons="" if passed else "挥发分超标")
    session.add(b)
    session.flush()
    return b


def card(session, registration: Registration | int) -> str:
    """The ID number on the card of a registration's household: what a clerk reads at the counter to sell to it."""
    registration_id = registration if isinstance(registration, int) else registration.id
    return session.execute(select(Household.id_number).join(Registration, Registration.household_id == Household.id)
                           .where(Registration.id == registration_id)
                           .execution_options(unscoped=True)).scalar_one()
