"""A heating season and its policy: rates, caps, funds, notice period, town targets, quality limits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field
from subsidy.models.enums import Category, Product, check_in


class Season(SQLModel, table=True):
    __table_args__ = (
        # Exactly one active season: a partial unique index holds on SQLite and PostgreSQL alike.
        Index("uq_season_one_active", "is_active", unique=True,
              sqlite_where=text("is_active"), postgresql_where=text("is_active")),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("notice_days >= 0", name="notice_days"),
        CheckConstraint("cap_coal_kg >= 0 AND cap_stoves >= 0", name="caps"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)  # short, used in slip numbers, e.g. "21A"
    name: str = Field(max_length=64)
    starts_on: date
    ends_on: date
    notice_days: int = 7
    is_active: bool = False
    cap_coal_kg: int = 3000  # per household per season
    cap_stoves: int = 1  # per household per season
    # One subsidised stove per household across all seasons unless the policy says otherwise.
    stove_once_ever: bool = True
    # The season's complaint hotline (举报电话), printed on the household's copy of a slip and on the public notice.
    hotline: str = Field(default="", max_length=32)
    # Days a supplier has, after a failed spot check, for a passed re-test (复检) before the bureau's home page flags it.
    retest_days: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    created_at: datetime = created_at_field()
    # Closed by the bureau (subsidy/reports/acceptance.py: close_season): no registration or slip is taken in it
    # any more, everything stays readable, and its acceptance report is frozen in `acceptance_snapshot`.
    closed_at: datetime | None = None
    closed_by: int | None = None  # the user's id; no foreign key (see migration 0015_h_dispatch)

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class SubsidyRate(SQLModel, table=True):
    """Rate per ton (coal) or per set (stove) for one product and household category; coal rates may be tiered by
    the household's cumulative kg in the season: the rate with the greatest `from_kg` not above the cumulative kg."""

    __tablename__ = "subsidy_rate"
    __table_args__ = (
        UniqueConstraint("season_id", "product", "category", "from_kg"),
        CheckConstraint(check_in("product", Product), name="product"),
        CheckConstraint(check_in("category", Category), name="category"),
        CheckConstraint("rate_fen >= 0 AND from_kg >= 0", name="non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    product: str = Field(max_length=16)
    category: str = Field(max_length=24)
    from_kg: int = 0
    rate_fen: int


class FundShare(SQLModel, table=True):
    """Who pays the subsidy: shares in basis points (10000 = 100%), which must add up to 10000 per season."""

    __tablename__ = "fund_share"
    __table_args__ = (
        UniqueConstraint("season_id", "fund"),
        CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="share"),
    )

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    fund: str = Field(max_length=16)  # city, district, town, province
    name: str = Field(max_length=32)
    share_bp: int
    position: int = 0


class TownTarget(SQLModel, table=True):
    __tablename__ = "town_target"
    __table_args__ = (
        UniqueConstraint("season_id", "town_id"),
        CheckConstraint("coal_kg >= 0 AND stoves >= 0", name="non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    coal_kg: int = 0
    stoves: int = 0


class QualityStandard(SQLModel, table=True):
    """Limits for one coal product in one season, one per indicator of subsidy/policy/quality.py (INDICATORS), in its
    stored unit (1200 = 12.00 %, 25000 = 25.00 MJ/kg, 600 = 0.600 μg/g): integers, so comparisons are exact. None:
    the limit does not apply."""

    __tablename__ = "quality_standard"
    __table_args__ = (UniqueConstraint("season_id", "product"),)

    id: int | None = Field(default=None, primary_key=True)
    season_id: int = Field(foreign_key="season.id", index=True)
    product: str = Field(max_length=16)
    max_volatile_cpct: int | None = None
    max_sulfur_cpct: int | None = None
    max_ash_cpct: int | None = None
    min_calorific_kj_kg: int | None = None
    max_moisture_cpct: int | None = None
    max_mercury_ng_g: int | None = None
    max_arsenic_ug_g: int | None = None
    max_phosphorus_mpct: int | None = None
    max_chlorine_mpct: int | None = None
    max_fluorine_ug_g: int | None = None
    min_strength_n: int | None = None
    min_drop_cpct: int | None = None
    # The preset it started from (subsidy/policy/quality.py PRESETS), "" for none.
    preset: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    source: str = Field(default="", max_length=200)  # which standard the numbers come from


class AcceptanceSnapshot(SQLModel, table=True):
    """The acceptance report (考核验收) of a closed season, written in the closing transaction: its figures as JSON,
    so that the report of a closed season never changes afterwards, whatever is corrected later. One per season."""

    __tablename__ = "acceptance_snapshot"

    season_id: int = Field(foreign_key="season.id", primary_key=True)
    figures: str = Field(sa_type=Text)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_at_field()
