"""Monthly summaries and their review history; settlements with their lines per town and per fund."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from subsidy.models.base import change_seq_field, created_at_field
from subsidy.models.enums import PaymentStatus, SettlementStatus, SummaryStatus, check_in


class Summary(SQLModel, table=True):
    """Supplier × town × month. Totals are stored when the summary is built and rebuilt when slips leave it.
    Totals are BIGINT: a month of a large town passes 2^31 fen (21 million yuan)."""

    __table_args__ = (
        CheckConstraint(check_in("status", SummaryStatus), name="status"),
        CheckConstraint("length(month) = 7", name="month"),
        # The list of summaries (settlement/summaries.py: list_summaries) by month then id, district-wide, a town's
        # (its scope) and a supplier's (migration 0016_h_lists).
        Index("ix_summary_month_id", "month", "id"),
        Index("ix_summary_town_month_id", "town_id", "month", "id"),
        Index("ix_summary_supplier_month_id", "supplier_id", "month", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id")  # indexed by (supplier_id, month, id)
    town_id: int = Field(foreign_key="town.id")  # indexed by (town_id, month, id)
    season_id: int = Field(foreign_key="season.id", index=True)
    month: str = Field(max_length=7)  # indexed by (month, id)
    status: str = Field(default=SummaryStatus.DRAFT, max_length=20, index=True)
    slip_count: int = 0
    coal_kg: int = Field(default=0, sa_type=BigInteger)
    stoves: int = 0
    amount_fen: int = Field(default=0, sa_type=BigInteger)
    subsidy_fen: int = Field(default=0, sa_type=BigInteger)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    # A summary is in at most one settlement: one column, set once by a conditional update.
    settlement_id: int | None = Field(default=None, foreign_key="settlement.id", index=True)
    # A summary of a month that has not ended yet may be submitted only once a reviewer (its town, or the bureau)
    # allowed it (subsidy/settlement/summaries.py: allow_early): who and when, set once.
    early_allowed_by: int | None = Field(default=None, foreign_key="app_user.id")
    early_allowed_at: datetime | None = None


class SummaryEvent(SQLModel, table=True):
    """One step of a summary's life: who, when, from which state to which, and the comment."""

    __tablename__ = "summary_event"

    id: int | None = Field(default=None, primary_key=True)
    summary_id: int = Field(foreign_key="summary.id", index=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    role: str = Field(max_length=16)
    action: str = Field(max_length=24)  # build, submit, approve, return, set_aside, rebuild
    from_status: str = Field(default="", max_length=20)
    to_status: str = Field(max_length=20)
    comment: str = Field(default="", sa_type=Text)


class Settlement(SQLModel, table=True):
    """Supplier × month: a statement, asked for as often as you like (unique), paid once (conditional update).

    A statement is never changed once made: a summary approved by finance after its month was settled goes into a
    supplementary statement of the same supplier and month (`seq` 2, 3, ...; settlement.settle)."""

    __table_args__ = (
        UniqueConstraint("supplier_id", "month", "seq"),
        CheckConstraint(check_in("status", SettlementStatus), name="status"),
        CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="paid_has_date"),
        # The list of statements (settlement/statements.py: list_settlements) by month then id, district-wide and
        # a supplier's (migration 0016_h_lists).
        Index("ix_settlement_month_id", "month", "id"),
        Index("ix_settlement_supplier_month_id", "supplier_id", "month", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    supplier_id: int = Field(foreign_key="supplier.id")  # indexed by (supplier_id, month, id)
    season_id: int = Field(foreign_key="season.id")
    month: str = Field(max_length=7)
    # 1: the month's statement; 2, 3, ...: its supplementary statements (补充结算单), in the order they were made.
    seq: int = 1
    status: str = Field(default=SettlementStatus.SETTLED, max_length=16)
    slip_count: int = 0
    coal_kg: int = Field(default=0, sa_type=BigInteger)
    stoves: int = 0
    amount_fen: int = Field(default=0, sa_type=BigInteger)
    subsidy_fen: int = Field(default=0, sa_type=BigInteger)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    payment_reference: str = Field(default="", max_length=64)
    paid_on: date | None = None
    paid_at: datetime | None = None
    paid_by: int | None = Field(default=None, foreign_key="app_user.id")
    change_seq: int = change_seq_field()


class SettlementTown(SQLModel, table=True):
    __tablename__ = "settlement_town"
    __table_args__ = (UniqueConstraint("settlement_id", "town_id"),)

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    town_id: int = Field(foreign_key="town.id")
    slip_count: int = 0
    coal_kg: int = Field(default=0, sa_type=BigInteger)
    stoves: int = 0
    amount_fen: int = Field(default=0, sa_type=BigInteger)
    subsidy_fen: int = Field(default=0, sa_type=BigInteger)


class SettlementFund(SQLModel, table=True):
    __tablename__ = "settlement_fund"
    __table_args__ = (UniqueConstraint("settlement_id", "fund"),)

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    fund: str = Field(max_length=16)
    name: str = Field(max_length=32)
    share_bp: int
    subsidy_fen: int = Field(sa_type=BigInteger)


class PaymentFile(SQLModel, table=True):
    """A batch transfer file (批量转账) made for the bank: the instructions it carries are its `payment` rows."""

    __tablename__ = "payment_file"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    payments: int = 0
    total_fen: int = Field(default=0, sa_type=BigInteger)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()


class Payment(SQLModel, table=True):
    """One instruction to the bank to pay one statement, and what the bank answered (subsidy/settlement/payments.py).

    A statement has at most ONE instruction that is not failed: the partial unique index `uq_payment_live` holds it
    whatever the concurrency, so a statement can never be sent to the bank twice at once nor paid twice, however
    often a failed payment is reissued (each reissue is a new row, `attempt` 2, 3, ...; failed rows stay)."""

    __table_args__ = (
        UniqueConstraint("settlement_id", "attempt"),
        CheckConstraint(check_in("status", PaymentStatus), name="status"),
        CheckConstraint("amount_fen > 0", name="amount"),
        Index("uq_payment_live", "settlement_id", unique=True, postgresql_where=text("status <> 'failed'"),
              sqlite_where=text("status <> 'failed'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The bank file that carried it; none for a payment recorded by hand (statements.pay: made outside the system).
    file_id: int | None = Field(default=None, foreign_key="payment_file.id", index=True)
    settlement_id: int = Field(foreign_key="settlement.id")  # first in uq (settlement_id, attempt)
    attempt: int = 1
    amount_fen: int = Field(sa_type=BigInteger)
    # The payee as it stood when the instruction was made (the supplier's record may change afterwards).
    payee_name: str = Field(max_length=100)
    account: str = Field(max_length=40)
    bank: str = Field(max_length=100)
    purpose: str = Field(max_length=100)
    status: str = Field(default=PaymentStatus.SENT, max_length=16)
    bank_reference: str = Field(default="", max_length=64)
    result_on: date | None = None
    reason: str = Field(default="", max_length=200)
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None
