"""Callbacks (回访抽查): the seeded draw of a summary's slips, the slips it drew, and each call to a sampled household.

A summary has at most one sample and a sampled slip at most one finished callback per sample (DESIGN.md invariant
9): a unique summary on `callback_sample`, and a partial unique index on the finished (`done`) rows of `callback`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field

# An unreached household counts as called back after this many tries (issue #16: "after three tries").
UNREACHED_AFTER_TRIES = 3


class CallbackSample(SQLModel, table=True):
    """The draw: `size` of the summary's `population` standing slips, chosen by `random.Random(seed).sample` over
    their ids in ascending order (subsidy/rules/sampling.py), so that anyone holding the seed and the population
    draws the same slips again; `population_digest` (SHA-256 of those ids) proves which population it was."""

    __tablename__ = "callback_sample"
    __table_args__ = (
        CheckConstraint("size >= 1 AND size <= population", name="size"),
        CheckConstraint("percent IS NULL OR (percent >= 1 AND percent <= 100)", name="percent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    summary_id: int = Field(foreign_key="summary.id", unique=True)  # one sample per summary, whatever the race
    seed: int = Field(sa_type=BigInteger)
    size: int
    population: int
    population_digest: str = Field(max_length=64)
    percent: int | None = None  # when drawn as a percentage; None when drawn by size
    drawn_by: int | None = Field(default=None, foreign_key="app_user.id")
    drawn_at: datetime = created_at_field()


class CallbackSampleSlip(SQLModel, table=True):
    """One slip a sample drew, in the order the draw gave it (`position`, from 1)."""

    __tablename__ = "callback_sample_slip"
    __table_args__ = (
        UniqueConstraint("sample_id", "slip_id"),
        UniqueConstraint("sample_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="callback_sample.id")
    slip_id: int = Field(foreign_key="slip.id", index=True)  # a callback finds its sample by the slip
    position: int


class Callback(SQLModel, table=True):
    """One recording of the calls to a sampled household, append-only: a household not reached is recorded with the
    tries so far (`done` false), and called again later in a new row claiming more tries; the row that reaches it,
    or the third unanswered try, is `done`, and nothing is recorded after it. `received_*` and `paid_fen` are what
    the household says (None when not reached). `discrepancy`: it received less, paid more than the slip's
    household share, or denies the purchase; the slip was set aside and `case_id` opened. `note` is personal data:
    the audit log names the row, never its text."""

    __tablename__ = "callback"
    __table_args__ = (
        ForeignKeyConstraint(["sample_id", "slip_id"],
                             ["callback_sample_slip.sample_id", "callback_sample_slip.slip_id"],
                             name="fk_callback_sampled_slip"),
        UniqueConstraint("sample_id", "slip_id", "attempts"),  # each recording claims more tries than the last
        Index("uq_callback_done", "sample_id", "slip_id", unique=True,
              postgresql_where=text("done"), sqlite_where=text("done")),
        CheckConstraint("attempts >= 1", name="attempts"),
        CheckConstraint(f"done = (reached OR attempts >= {UNREACHED_AFTER_TRIES})", name="done"),
        CheckConstraint("reached OR (received_kg IS NULL AND received_stoves IS NULL AND paid_fen IS NULL)",
                        name="unreached_says_nothing"),
        CheckConstraint("reached OR NOT discrepancy", name="discrepancy_reached"),
        CheckConstraint("received_kg >= 0 AND received_stoves >= 0 AND paid_fen >= 0", name="amounts"),
        # The anomaly rule `callback_discrepancy` and the reports read the discrepancies of a season by time.
        Index("ix_callback_discrepancy", "recorded_at", postgresql_where=text("discrepancy"),
              sqlite_where=text("discrepancy")),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="callback_sample.id")
    slip_id: int = Field(foreign_key="slip.id", index=True)
    reached: bool
    attempts: int
    done: bool
    received_kg: int | None = Field(default=None, sa_type=BigInteger)
    received_stoves: int | None = None
    paid_fen: int | None = Field(default=None, sa_type=BigInteger)
    note: str = Field(default="", sa_type=Text)
    discrepancy: bool = False
    case_id: int | None = Field(default=None, foreign_key="oversight_case.id")
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime = created_at_field()
