"""Suppliers-area factories: batches with valid defaults and sold slips inserted directly (until the slips area
lands, the ledger tests need slip rows without going through issuing)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.supply import batches
from subsidy.policy import seasons
from subsidy.models import Registration, RegistrationStatus, Slip, SlipLine, SlipStatus, Supplier, Village

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def supplier(session: Session, code: str) -> Supplier:
    return session.execute(select(Supplier).where(Supplier.code == code)).scalar_one()


def batch_input(**overrides) -> batches.BatchInput:
    values = dict(product="briquette", quantity_kg=10_000, producer="示范型煤厂", origin="山西晋城",
                  arrival_date=None, vehicle="鲁J12345", report_no="JC-TEST-1", lab="泰安市产品质量检验所",
                  volatile_pct="9.80", sulfur_pct="0.35", ash_pct="18.00", calorific_mj_kg="24.5")
    values.update(overrides)
    return batches.BatchInput(**values)


def add_batch(session: Session, supplier_code: str = "coal-a", **overrides):
    return batches.record(session, None, supplier(session, supplier_code).id, batch_input(**overrides))


_seq = [0]


def sold_slip(session: Session, supplier_code: str, kg: int, *, product: str = "briquette", issued_on: date,
              batch_id: int | None = None, status: str = SlipStatus.ISSUED) -> Slip:
    """An issued slip of `kg` of `product` for some approved registration (inserted directly, stock untouched)."""
    s = supplier(session, supplier_code)
    season = seasons.active_season(session)
    reg, village = session.execute(
        select(Registration, Village).join(Village, Village.id == Registration.village_id)
        .where(Registration.status == RegistrationStatus.APPROVED).limit(1)).first()
    _seq[0] += 1
    seq = _seq[0] + 1000 * s.id
    slip = Slip(number=f"TEST{s.slip_prefix}-{seq:06d}", seq=seq, supplier_id=s.id, season_id=season.id,
                registration_id=reg.id, household_id=reg.household_id, town_id=village.town_id, village_id=village.id,
                status=status, issued_on=issued_on, head_name="测试户", id_number="370902199001010000",
                address="测试地址", category="ordinary", coal_kg=kg, amount_fen=kg * 110, subsidy_fen=kg * 30)
    session.add(slip)
    session.flush()
    session.add(SlipLine(slip_id=slip.id, line_no=1, product=product, quantity=kg, batch_id=batch_id,
                         unit_price_fen=110_000, amount_fen=kg * 110, subsidy_fen=kg * 30))
    session.flush()
    return slip
