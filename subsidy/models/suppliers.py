"""Suppliers, their contracts with towns, the coal batches they take in, and attached documents."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from subsidy.models.base import change_seq_field, created_at_field
from subsidy.models.enums import Product, SupplierStatus, check_in


class Supplier(SQLModel, table=True):
    __table_args__ = (CheckConstraint(check_in("status", SupplierStatus), name="status"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    credit_code: str = Field(max_length=18, unique=True)  # GB 32100 unified social credit code
    slip_prefix: str = Field(max_length=4, unique=True)  # one or two letters in slip numbers, e.g. "A"
    legal_rep: str = Field(default="", max_length=32)
    contact_name: str = Field(default="", max_length=32)
    contact_phone: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=200)
    bank_name: str = Field(default="", max_length=100)
    bank_account: str = Field(default="", max_length=40)
    tender_notice_no: str = Field(default="", max_length=64)
    tender_date: date | None = None
    products: str = Field(default="", max_length=100)  # comma-separated Product values won in the tender
    status: str = Field(default=SupplierStatus.ACTIVE, max_length=16)
    created_at: datetime = created_at_field()


class Attachment(SQLModel, table=True):
    """A scanned contract, quality guarantee or test report, kept in the database (type checked by content)."""

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    uploaded_by: int | None = Field(default=None, foreign_key="app_user.id")
    uploaded_at: datetime = created_at_field()


class Contract(SQLModel, table=True):
    """Supplier × town × season × product at an agreed delivery price (fen per ton for coal, per set for stoves)."""

    __table_args__ = (
        UniqueConstraint("supplier_id", "town_id", "season_id", "product"),
        CheckConstraint(check_in("product", Product), name="product"),
        CheckConstraint("price_fen > 0", name="price"),
    )

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    product: str = Field(max_length=16)
    price_fen: int
    signed_on: date | None = None
    guarantee_received: bool = False
    contract_attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    guarantee_attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    created_at: datetime = created_at_field()


class LabValues(SQLModel):
    """The values of a coal test report, in the units subsidy/policy/quality.py INDICATORS names: the four every
    report gives, and the rest, None when the report does not give the value. A supplier's batch (its own report)
    and a spot check (the authorities' report, subsidy/models/quality.py) carry the same columns."""

    volatile_cpct: int
    sulfur_cpct: int
    ash_cpct: int
    calorific_kj_kg: int
    # The rest of the report (subsidy/policy/quality.py INDICATORS): None when the report does not give the value.
    moisture_cpct: int | None = None
    mercury_ng_g: int | None = None
    arsenic_ug_g: int | None = None
    phosphorus_mpct: int | None = None
    chlorine_mpct: int | None = None
    fluorine_ug_g: int | None = None
    strength_n: int | None = None
    drop_cpct: int | None = None


class Depot(SQLModel, table=True):
    """A supplier's supply point (保供点, seed 002): the depot or shop households buy at and the regulator samples
    at. A batch names the depot it was taken in at; coverage is counted per depot too."""

    __table_args__ = (UniqueConstraint("supplier_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id")  # the unique constraint's index serves lookups by supplier
    name: str = Field(max_length=100)
    address: str = Field(max_length=200)
    town_id: int = Field(foreign_key="town.id")
    # A deactivated depot (depots.deactivate) is offered for no new batch; the batches taken in at it keep naming
    # it, and coverage still counts it.
    active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()


class Batch(LabValues, table=True):
    """Coal a supplier took in, with its third-party test report. `sold_kg` only grows through a conditional update
    that keeps it within `quantity_kg` (and a CHECK says so), so no two sales can take the same stock."""

    __table_args__ = (
        CheckConstraint(check_in("product", Product), name="product"),
        CheckConstraint("product <> 'stove'", name="coal_only"),
        CheckConstraint("quantity_kg > 0", name="quantity"),
        CheckConstraint("sold_kg >= 0 AND sold_kg <= quantity_kg", name="stock"),
    )

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    product: str = Field(max_length=16)
    quantity_kg: int
    sold_kg: int = 0
    producer: str = Field(default="", max_length=100)
    origin: str = Field(default="", max_length=100)  # the "source" of the API
    arrival_date: date | None = None
    vehicle: str = Field(default="", max_length=20)
    report_no: str = Field(max_length=64)
    lab: str = Field(max_length=100)
    # The date on the lab's report (报告日期): None when not given. Never in the future nor before arrival_date
    # (batches.record); the public page shows it as the day the batch was tested.
    report_date: date | None = None
    passed: bool
    failed_reasons: str = Field(default="", max_length=400)
    # Set once, by a failed spot check (subsidy/quality/inspections.py): nothing more is sold from the batch; the
    # stock left stays in the ledger as frozen. Every statement that takes stock requires it NULL.
    frozen_at: datetime | None = None
    depot_id: int | None = Field(default=None, foreign_key="depot.id", index=True)  # where it was taken in
    report_attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    change_seq: int = change_seq_field()
