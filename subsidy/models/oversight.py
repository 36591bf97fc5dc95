"""Cases (投诉举报与问题线索): the case, what it concerns, every step of its life, and the counter of its numbers; the
anomaly rules' flags (异常预警)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field
from subsidy.models.enums import (
    AnomalyMemberKind, AnomalyStatus, CaseCategory, CaseChannel, CaseFinding, CaseLinkKind, CaseStatus, check_in,
)


class CaseCounter(SQLModel, table=True):
    """The last sequence number of a season's cases, taken by a conditional update in the opening transaction (the
    row stays locked until commit on PostgreSQL), so numbers are unique and gapless per season."""

    __tablename__ = "case_counter"

    season_id: int = Field(foreign_key="season.id", primary_key=True)
    last_seq: int = 0


class Case(SQLModel, table=True):
    """A complaint, tip or finding. Never deleted: a closed case is reopened, its history kept in `case_event`.
    `town_id` None: assigned to the bureau. `finding`/`outcome` hold the last closing's result."""

    __tablename__ = "oversight_case"
    __table_args__ = (
        UniqueConstraint("season_id", "seq"),
        CheckConstraint(check_in("status", CaseStatus), name="status"),
        CheckConstraint(check_in("channel", CaseChannel), name="channel"),
        CheckConstraint(check_in("category", CaseCategory), name="category"),
        CheckConstraint(f"finding = '' OR {check_in('finding', CaseFinding)}", name="finding"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_date"),
        # The list of cases (oversight/cases.py: list_cases) by id or by deadline, district-wide and a town's (its
        # scope, or the bureau's filter town_id); migration 0016_h_lists.
        Index("ix_oversight_case_town_id_id", "town_id", "id"),
        Index("ix_oversight_case_deadline_id", "deadline", "id"),
        Index("ix_oversight_case_town_deadline_id", "town_id", "deadline", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)  # TS-21A-0001: district, season, sequence
    season_id: int = Field(foreign_key="season.id", index=True)
    seq: int
    channel: str = Field(max_length=16)
    category: str = Field(max_length=16, index=True)
    description: str = Field(sa_type=Text)
    town_id: int | None = Field(default=None, foreign_key="town.id")  # indexed by (town_id, id)
    status: str = Field(default=CaseStatus.OPEN, max_length=16, index=True)
    deadline: date
    finding: str = Field(default="", max_length=8)
    outcome: str = Field(default="", sa_type=Text)
    opened_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
    closed_at: datetime | None = None


class CaseDeadline(SQLModel, table=True):
    """The days a case of one category has to be handled in a season (its policy); a category without a row has
    the default (subsidy/oversight/cases.py: DEFAULT_DEADLINE_DAYS)."""

    __tablename__ = "case_deadline"
    __table_args__ = (
        UniqueConstraint("season_id", "category"),
        CheckConstraint(check_in("category", CaseCategory), name="category"),
        CheckConstraint("days > 0 AND days <= 365", name="days"),
    )

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id")  # indexed by the unique (season_id, category)
    category: str = Field(max_length=16)
    days: int


class CaseLink(SQLModel, table=True):
    """What a case concerns: a household, a slip, a supplier or a batch (any, several or none)."""

    __tablename__ = "case_link"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "target_id"),
        CheckConstraint(check_in("kind", CaseLinkKind), name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="oversight_case.id", index=True)
    kind: str = Field(max_length=16)
    target_id: int
    label: str = Field(default="", max_length=64)  # as shown: the slip's number, the supplier's name, ...


class CaseEvent(SQLModel, table=True):
    """One step of a case: who, when, from which state to which, and the comment."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="oversight_case.id", index=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    username: str = Field(default="system", max_length=64)
    role: str = Field(default="", max_length=16)
    action: str = Field(max_length=16)  # open, accept, close, reopen, note
    from_status: str = Field(default="", max_length=16)
    to_status: str = Field(max_length=16)
    comment: str = Field(default="", sa_type=Text)


class AnomalyFlag(SQLModel, table=True):
    """One finding of a named anomaly rule (subsidy/oversight/anomalies.py): what it is about (`subject`, masked as
    any list shows it; `subject_key` the grouping key, a phone's keyed hash for instance) and its evidence, the
    sorted ids of the households or slips it found (`members`, `size` of them) with the rule's figures (`figure`,
    `base`: 7 voids of 100 slips, 25 slips within ten minutes against a limit of 20).

    `fingerprint` is a hash of the rule, the subject and the members: unique per rule, so that a run finding the same
    evidence again touches the flag it raised before (a dismissed flag stays dismissed) and new evidence (a fourth
    household on a phone) is a new flag."""

    __tablename__ = "anomaly_flag"
    __table_args__ = (
        UniqueConstraint("rule", "fingerprint"),
        CheckConstraint(check_in("status", AnomalyStatus), name="status"),
        CheckConstraint(check_in("member_kind", AnomalyMemberKind), name="member_kind"),
        CheckConstraint("(status IN ('dismissed', 'confirmed')) = (reviewed_at IS NOT NULL)", name="reviewed"),
        CheckConstraint("status != 'confirmed' OR case_id IS NOT NULL", name="confirmed_has_case"),
        # The list, newest first, by status and by rule and status (the filters of 异常预警).
        Index("ix_anomaly_flag_status_id", "status", "id"),
        Index("ix_anomaly_flag_rule_status_id", "rule", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)  # the season of the run that first raised it
    rule: str = Field(max_length=32)
    subject_key: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    member_kind: str = Field(max_length=16)
    members: str = Field(sa_type=Text)  # sorted ids, comma-separated
    size: int
    figure: int = 0
    base: int = 0
    fingerprint: str = Field(max_length=32)
    status: str = Field(default=AnomalyStatus.OPEN, max_length=16)
    first_seen_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()
    reviewed_by: int | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = None
    reason: str = Field(default="", sa_type=Text)
    case_id: int | None = Field(default=None, foreign_key="oversight_case.id")
