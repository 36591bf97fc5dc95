"""Households area: users and villages of the demo by code, valid household inputs, spreadsheets built in memory."""

from __future__ import annotations

import io
from datetime import date
from itertools import count

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from subsidy.registry.spreadsheet import HEADER
from subsidy.registry.households import HouseholdInput
from subsidy.rules.idnumbers import make_id_number
from subsidy.models import User, Village

_serial = count(1)


def new_id_number(region: str = "370902") -> str:
    """A valid, fictional ID number not used by the demo (the demo's sequence numbers start at 900)."""
    n = next(_serial)
    return make_id_number(region, date(1960 + n % 40, n % 12 + 1, n % 28 + 1), f"{n % 800:03d}")


def household_input(**overrides) -> HouseholdInput:
    values = dict(head_name="王建国", id_number=new_id_number(), phone="13905381234", address="东关村3组5号",
                  category="ordinary")
    values.update(overrides)
    return HouseholdInput(**values)


def user(session, username: str) -> User:
    return session.execute(select(User).where(User.username == username)).scalar_one()


def village(session, code: str) -> Village:
    return session.execute(select(Village).where(Village.code == code)).scalar_one()


def row(village_code="dongguan", name="王建国", id_number=None, phone="13905381234", address="东关村3组5号",
        category="普通", coal="1.5", stoves=1) -> list:
    return [village_code, name, id_number or new_id_number(), phone, address, category, coal, stoves]


def xlsx(rows: list[list], header=HEADER) -> bytes:
    """A workbook in memory: the header, then the rows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read_xlsx(data: bytes) -> list[list]:
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    return rows
