"""The registry: households, their purchase registrations per season, and the village's public notices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, String, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from subsidy.models.base import change_seq_field, created_at_field, postgresql_only
from subsidy.models.enums import Category, RegistrationStatus, check_in
from subsidy.models.sealed import from_parameter, hmac_of, keep_lookups, sealed, tail6_hmac_of, tail_of
from subsidy.rules.addresses import KEY_LENGTH, address_key


class Household(SQLModel, table=True):
    """A household of the registry. Its ID number and phone are sealed at rest (subsidy/models/sealed.py): the
    attributes read and take the plaintext; lookups compare `id_number_hmac` / `phone_hmac` (the unique constraint
    that registers an ID number once in the district is on `id_number_hmac`), tail searches `*_tail` (the last four)
    and `id_number_tail6_hmac` (the lookup hash of an ID number's last six).
    `address_key` is the address's normal form (subsidy/rules/addresses.py), kept like the lookups: an attribute event
    for objects, a column default for Core INSERTs; a Core UPDATE of the address sets it too (the import does)."""

    __table_args__ = (
        CheckConstraint(check_in("category", Category), name="category"),
        # One address on several households of a village (the shared_address anomaly rule) by this index alone.
        Index("ix_household_village_address", "village_id", "address_key", "id"),
        # The list of households (registry/households.py: list_households) in its two orders, within a village or
        # district-wide: each page an index range, never a sort (migration 0016_h_lists).
        Index("ix_household_village_id_id", "village_id", "id"),
        Index("ix_household_head_name_id", "head_name", "id"),
        # The name search, contains (subsidy/registry/households.py: _matching), on PostgreSQL: pg_trgm's GIN index
        # (migration 0015_h_scale creates the extension). SQLite scans in id order (the same function says why).
        postgresql_only(Index("ix_household_head_name_trgm", "head_name", postgresql_using="gin",
                              postgresql_ops={"head_name": "gin_trgm_ops"})),
    )

    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="village.id")  # indexed by (village_id, id)
    head_name: str = Field(max_length=40)  # indexed by (head_name, id)
    id_number: str = sealed("id_number")
    id_number_hmac: str = hmac_of("id_number", unique=True)  # registered once in the district
    id_number_tail: str = tail_of("id_number", index=True)
    id_number_tail6_hmac: str = tail6_hmac_of("id_number", index=True)
    phone: str = sealed("phone", default="")
    phone_hmac: str = hmac_of("phone", index=True)
    phone_tail: str = tail_of("phone", index=True)
    address: str = Field(max_length=200)
    address_key: str = Field(default=None, sa_column=Column(
        String(KEY_LENGTH), nullable=False, default=from_parameter("address", address_key)))
    category: str = Field(default=Category.ORDINARY, max_length=24)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    change_seq: int = change_seq_field()


keep_lookups(Household, "id_number", "phone", tail6=("id_number",))


@event.listens_for(Household.address, "set")
def _keep_address_key(target, value, _old, _initiator):
    target.address_key = address_key(value)


class Registration(SQLModel, table=True):
    """One household's request for one season. `sold_coal_kg` and `sold_stoves` count what has been sold on
    issued slips; they only move by conditional updates and CHECKs keep them within the registration
    (invariant 2, whatever the concurrency)."""

    __table_args__ = (
        UniqueConstraint("household_id", "season_id"),
        CheckConstraint(check_in("status", RegistrationStatus), name="status"),
        CheckConstraint("coal_kg >= 0 AND stoves >= 0", name="non_negative"),
        CheckConstraint("sold_coal_kg >= 0 AND sold_coal_kg <= coal_kg", name="coal_within"),
        CheckConstraint("sold_stoves >= 0 AND sold_stoves <= stoves", name="stoves_within"),
        # The delivery list (subsidy/delivery/deliveries.py): a village's approved registrations of a season in id
        # order, read a page at a time without sorting (scripts/bench_deliveries.py).
        Index("ix_registration_delivery", "village_id", "season_id", "status", "id"),
        # The list of registrations (registry/households.py: list_registrations): a season's, by village or by id.
        Index("ix_registration_season_village_id", "season_id", "village_id", "id"),
        Index("ix_registration_season_id_id", "season_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    season_id: int = Field(foreign_key="season.id")  # indexed by (season_id, ...)
    village_id: int = Field(foreign_key="village.id")  # denormalised for scoped lists; ix_registration_delivery
    coal_kg: int = 0
    stoves: int = 0
    status: str = Field(default=RegistrationStatus.REGISTERED, max_length=16, index=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id", index=True)
    decided_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    reject_reason: str = Field(default="", max_length=200)
    sold_coal_kg: int = 0
    sold_stoves: int = 0
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    change_seq: int = change_seq_field()


class Notice(SQLModel, table=True):
    """A village's public notice (公示) of its registrations; they may be approved once `ends_on` has passed."""

    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="village.id", index=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    published_on: date
    ends_on: date
    objection_contact: str = Field(default="", max_length=200)
    published_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()


class ImportUpload(SQLModel, table=True):
    """An uploaded registration spreadsheet kept between its preview and its confirmation. The bytes live in the
    database, not in a process's memory or a local temp file, so that the confirmation may reach another app process
    (or another machine) than the preview did; a hidden form field would have to carry megabytes back and forth.

    Only a readable file is kept (its preview was made before it was stored), and its bytes, which hold whole ID
    numbers, are dropped as soon as they are no longer needed: on confirmation, on cancellation, and a day after the
    upload by `subsidy uploads purge` (the server runs it too). `preview` is what the preview found (JSON, ID numbers
    masked) so that the clerk can leave the page and come back to it; a confirmation commits in batches and counts
    its progress in `rows_done` of `rows_total`, with its running result in `result` (JSON), so that one interrupted
    goes on where it stopped."""

    __tablename__ = "import_upload"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="village.id")
    filename: str = Field(default="", max_length=200)
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_type=LargeBinary)
    preview: str = Field(default="", sa_type=Text)
    rows_total: int = 0
    rows_done: int = 0
    result: str = Field(default="", sa_type=Text)
    used_at: datetime | None = None
    created_at: datetime = created_at_field()
