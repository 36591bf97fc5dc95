"""Five-copy sales slips, their lines, the number counters and the copies each office has scanned."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from subsidy.models.base import change_seq_field, created_at_field
from subsidy.models.enums import Category, Product, SlipStatus, check_in
from subsidy.models.sealed import hmac_of, keep_lookups, sealed, tail_of


class SlipCounter(SQLModel, table=True):
    """The next sequence number of a supplier's slips in a season. Taken inside the issuing transaction with a
    conditional update, so numbers are unique and have no gaps (a rolled-back sale gives its number back)."""

    __tablename__ = "slip_counter"
    __table_args__ = (UniqueConstraint("supplier_id", "season_id"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id")
    season_id: int = Field(foreign_key="season.id")
    last_seq: int = 0


class Slip(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("supplier_id", "season_id", "seq"),
        CheckConstraint(check_in("status", SlipStatus), name="status"),
        CheckConstraint(check_in("category", Category), name="category"),
        CheckConstraint("subsidy_fen >= 0 AND subsidy_fen <= amount_fen", name="subsidy_within_amount"),
        # The lists of a supplier's and of a town's slips by day, newest first (slips.list_slips): id gives the order
        # of a page without sorting the day, status lets the page's count(*) with a status filter read the index only.
        Index("ix_slip_supplier_day", "supplier_id", "issued_on", "id", "status"),
        Index("ix_slip_town_day", "town_id", "issued_on", "id", "status"),
        # The same list district-wide (the bureau, finance, the auditor) and a village's (migration 0016_h_lists).
        # Every slips list is of one season (sales/listing.py: SlipFilter.in_season), so a page of the district's is a
        # range of this index whatever the other seasons hold (migration 0017_h_r19). An index of (issued_on, id)
        # alone, which this replaces for the list, made PostgreSQL read the newer seasons' slips before each page of
        # an older one (it costs the two alike), hence no such index on every slip: see ix_slip_issued_day.
        Index("ix_slip_season_on", "season_id", "issued_on", "id"),
        # The office's list of the issued slips whose copy it has not recorded, oldest first, of every season
        # (sales/scanning.py: missing_copies, which names the status as a literal so that both databases know the
        # index serves it); partial, so that the season's list above has no other index of its order to choose.
        Index("ix_slip_issued_day", "issued_on", "id", postgresql_where=text("status = 'issued'"),
              sqlite_where=text("status = 'issued'")),
        Index("ix_slip_village_day", "village_id", "issued_on", "id"),
        # /slips searched by the buyer's name (sales/listing.py: SlipFilter.buyer, an equality).
        Index("ix_slip_head_name", "head_name"),
        # The slips of a summary (supplier × town × month) by range, and the few ever set aside (settlement.py).
        Index("ix_slip_supplier_town_day", "supplier_id", "town_id", "issued_on"),
        Index("ix_slip_set_aside", "supplier_id", "issued_on", postgresql_where=text("set_aside_at IS NOT NULL"),
              sqlite_where=text("set_aside_at IS NOT NULL")),
        # The stock ledger reads a supplier's issued slips of a season by day from this index alone (subsidy/supply/ledger.py;
        # `id` is there for PostgreSQL's index-only scans, SQLite keeps the rowid in every index anyway).
        Index("ix_slip_ledger", "supplier_id", "season_id", "status", "issued_on", "id"),
        # The anomaly rule `burst` (subsidy/oversight/anomalies.py) reads a season's slips per clerk in time order from
        # this index alone: no sort of the season's slips (scripts/bench_anomalies.py). None of its columns changes
        # after issue.
        Index("ix_slip_clerk_time", "season_id", "issued_by", "issued_at", "id", "issued_on"),
        # The rules `unscanned_copy` and `undelivered` read a season's standing slips with their day, town and
        # supplier from this index alone, in id order, and merge them with slip_scan's and delivery's unique indexes
        # (no hash of the season's scans): the slip's heap (wide, and half empty by the fillfactor below) is read by
        # neither. Voiding changes `status`, which only makes that rare update non-HOT; building a summary stays HOT.
        Index("ix_slip_standing", "season_id", "status", "id", "issued_on", "town_id", "supplier_id"),
        # NO index may cover summary_id, not even in a WHERE clause. Building a month writes summary_id on every
        # slip of the month (200,000 for a large supplier). While no index covers it, PostgreSQL rewrites each row on
        # its own page (a HOT update: no new entry in any of the table's indexes) and SQLite touches no index:
        # 200,000 slips took 4.5 s on PostgreSQL with the old (supplier, summary_id, day) index, 1.5 s without it
        # (scripts/bench_settlement.py). HOT needs room on the page, hence fillfactor 50: without it, dropping the
        # index alone saved nothing. The slips of a summary are found by supplier, town and month instead
        # (settlement._in_summaries); tests/services/settlement/test_settlement.py checks that a build stays HOT.
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    seq: int
    supplier_id: int = Field(foreign_key="supplier.id")
    season_id: int = Field(foreign_key="season.id", index=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    town_id: int = Field(foreign_key="town.id")
    village_id: int = Field(foreign_key="village.id")  # indexed by (village_id, issued_on, id)
    status: str = Field(default=SlipStatus.ISSUED, max_length=16)
    issued_at: datetime = created_at_field()
    issued_on: date  # local (China) date of the sale: decides the summary month
    issued_by: int | None = Field(default=None, foreign_key="app_user.id")
    # The household as it was when the slip was issued; its ID number and phone sealed as the household's are
    # (subsidy/models/sealed.py). Their hashes and tails are not indexed: a slip is found through household_id, and
    # every index is one more write on the sale's hot path.
    head_name: str = Field(max_length=40)
    id_number: str = sealed("id_number")
    id_number_hmac: str = hmac_of("id_number")
    id_number_tail: str = tail_of("id_number")
    phone: str = sealed("phone", default="")
    phone_hmac: str = hmac_of("phone")
    phone_tail: str = tail_of("phone")
    address: str = Field(max_length=200)
    category: str = Field(max_length=24)
    coal_kg: int = 0
    stoves: int = 0
    amount_fen: int = 0
    subsidy_fen: int = 0
    void_reason: str = Field(default="", max_length=200)
    voided_at: datetime | None = None
    voided_by: int | None = Field(default=None, foreign_key="app_user.id")
    # A slip is counted in at most one summary: one column, set once by a conditional update. Not indexed (above).
    summary_id: int | None = Field(default=None, foreign_key="summary.id")
    # A reviewer may set a slip aside instead of returning its whole summary (settlement.py).
    set_aside_reason: str = Field(default="", max_length=200)
    set_aside_at: datetime | None = None
    # Not indexed, for the reason summary_id is not (above): a summary's build changes it on every slip of the month,
    # and an index on it would end the HOT updates. An incremental export of slips reads the table once instead.
    change_seq: int = change_seq_field(index=False)

    @property
    def household_pays_fen(self) -> int:
        return self.amount_fen - self.subsidy_fen


keep_lookups(Slip, "id_number", "phone")


class SlipLine(SQLModel, table=True):
    __tablename__ = "slip_line"
    __table_args__ = (
        UniqueConstraint("slip_id", "line_no"),
        CheckConstraint(check_in("product", Product), name="product"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("subsidy_fen >= 0 AND subsidy_fen <= amount_fen", name="subsidy_within_amount"),
        # A stove's serial number is sold once while its slip stands: voiding the slip releases it for a new sale.
        UniqueConstraint("serial", "active_key"),
        # The stock ledger sums a slip's lines of one product by batch from this index alone (subsidy/supply/ledger.py).
        Index("ix_slip_line_ledger", "slip_id", "product", "batch_id", "quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slip_id: int = Field(foreign_key="slip.id")  # indexed first in uq (slip_id, line_no) and ix_slip_line_ledger
    line_no: int
    product: str = Field(max_length=16)
    quantity: int  # kg for coal, sets for stoves
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    serial: str | None = Field(default=None, max_length=64)
    # 0 while the line counts; set to the line's own id when its slip is voided, so the serial can be sold again.
    active_key: int = 0
    unit_price_fen: int  # per ton for coal, per set for stoves (the contract price)
    amount_fen: int
    subsidy_fen: int


class HouseholdStove(SQLModel, table=True):
    """The subsidised stove a household received, when the policy allows one in all seasons: a unique household
    makes a second one impossible whatever the concurrency. Voiding the slip marks the row released."""

    __tablename__ = "household_stove"
    __table_args__ = (UniqueConstraint("household_id", "active_key"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    slip_id: int = Field(foreign_key="slip.id")
    # 0 while the stove counts; set to the row's own id when its slip is voided, freeing the household.
    active_key: int = 0


class SlipScan(SQLModel, table=True):
    """An office recorded that it holds its paper copy of a slip."""

    __tablename__ = "slip_scan"
    __table_args__ = (UniqueConstraint("slip_id", "copy_no"), CheckConstraint("copy_no BETWEEN 1 AND 5", name="copy_no"))

    id: int | None = Field(default=None, primary_key=True)
    slip_id: int = Field(foreign_key="slip.id", index=True)
    copy_no: int
    scanned_by: int | None = Field(default=None, foreign_key="app_user.id")
    scanned_at: datetime = created_at_field()
