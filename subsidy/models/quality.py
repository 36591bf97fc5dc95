"""Government spot checks (抽检) of suppliers' batches."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from subsidy.models.base import change_seq_field, created_at_field
from subsidy.models.suppliers import LabValues


class SpotCheck(LabValues, table=True):
    """The authorities' own test of a sample taken from a supplier's batch: where, when, by whom, the lab's report
    and its values (the columns of subsidy/policy/quality.py INDICATORS, None when the report does not give one),
    judged by the season's standard. A failed one freezes its batch (Batch.frozen_at) and opens a case."""

    __tablename__ = "spot_check"
    # One lab report is recorded once per batch (a second POST of the same report is a conflict, not a second test).
    # The season's list pages by (sampled_on, id) newest first (subsidy/quality/inspections.py `listing`); the same
    # index serves every lookup by season (coverage, re-tests), so season_id has no index of its own.
    __table_args__ = (UniqueConstraint("batch_id", "lab", "report_no"),
                      Index("ix_spot_check_season_sampled", "season_id", "sampled_on", "id"))

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    season_id: int = Field(foreign_key="season.id")
    sampled_on: date
    place: str = Field(default="", max_length=100)  # the depot or yard the sample was taken at
    sampler: str = Field(default="", max_length=64)  # who took it (an official, not a household)
    lab: str = Field(max_length=100)
    report_no: str = Field(max_length=64)
    passed: bool
    failed_reasons: str = Field(default="", max_length=1000)
    standard_source: str = Field(default="", max_length=200)  # the standard it was judged by, as it read then
    report_attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    case_id: int | None = Field(default=None, foreign_key="oversight_case.id")
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    change_seq: int = change_seq_field()  # the platform data set's change marker (migration 0016_h_platform)
