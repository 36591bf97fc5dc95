"""What a season publishes to everyone (信息公开): the page `/public` and `/api/v1/public` render the one structure
`disclosure` returns, without login.

What is in it, and only that: the season's subsidy rates per product and household category and its caps per
household, the suppliers that hold contracts in the season (name, unified social credit code, products, contract
price per town), every coal batch of the season with its test report (failed batches stay listed, with the values
that failed; a batch a spot check froze says so), the government spot checks (抽检, seed 002: failures are published)
with their values, and the villages in a ban zone or a clean-only zone. No household, registration, slip, user or
supplier contact is ever read here: nothing personal can reach the page, masked or not. Seasons other than the
chosen one are not read beyond their names (for the season chooser).

Six statements whatever the size of the district (no query per supplier or per batch), on the read-only session
the caller gives. The web layer caches the rendered answer per season (web/pages/public.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import clock
from subsidy.core.errors import NotFound
from subsidy.models import Batch, Contract, Season, SpotCheck, SubsidyRate, Supplier, Town, Village, Zone
from subsidy.oversight import cases
from subsidy.policy import quality
from subsidy.supply import batches as batch_rules


@dataclass(frozen=True)
class SeasonRef:
    id: int
    code: str
    name: str
    starts_on: date
    ends_on: date
    is_active: bool


@dataclass(frozen=True)
class Rate:
    product: str
    category: str
    from_kg: int  # tiers: the rate applies from this cumulative kg of the season on (0 for a flat rate)
    rate_fen: int  # per ton of coal, per set for stoves


@dataclass(frozen=True)
class Price:
    town: str
    product: str
    price_fen: int  # per ton of coal, per set for stoves


@dataclass
class PublicSupplier:
    name: str
    credit_code: str
    products: list[str] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)


@dataclass(frozen=True)
class PublicBatch:
    supplier: str
    product: str
    report_no: str
    lab: str
    # The date on the batch's test report (报告日期) when the supplier gave it; else the batch's arrival date, which
    # its report accompanies, or the day it was entered without one.
    tested_on: date
    volatile_cpct: int
    sulfur_cpct: int
    ash_cpct: int
    calorific_kj_kg: int
    passed: bool
    failed_reasons: list[str]
    frozen: bool = False  # a failed spot check stopped its sales
    report: dict = field(default_factory=dict)  # every reported value by API key (quality.INDICATORS), API units
    report_date: date | None = None  # the report's own date, None when not given


@dataclass(frozen=True)
class PublicSpotCheck:
    supplier: str
    product: str
    batch_report_no: str  # the supplier's own report of the batch, to read them side by side
    sampled_on: date
    lab: str
    report_no: str
    passed: bool
    failed_reasons: list[str]
    report: dict  # every reported value by API key, API units


def reported(row) -> dict:
    """A report's given values by API key in the API's units (a value not reported is left out)."""
    return {i.key: (value / 10**i.places if i.places else value) for i in quality.INDICATORS
            if (value := getattr(row, i.column)) is not None}


@dataclass(frozen=True)
class ZoneVillage:
    town: str
    village: str
    zone: str


@dataclass(frozen=True)
class MonthCases:
    month: str  # "YYYY-MM", China time
    received: int
    closed: int


@dataclass
class Disclosure:
    season: SeasonRef
    seasons: list[SeasonRef]  # every season, newest first, for the chooser
    cap_coal_kg: int
    cap_stoves: int
    rates: list[Rate]
    suppliers: list[PublicSupplier]
    batches: list[PublicBatch]
    spot_checks: list[PublicSpotCheck]
    ban: list[ZoneVillage]
    clean_only: list[ZoneVillage]
    hotline: str              # the season's complaint line (举报电话), as printed on the household's copy
    cases: list[MonthCases]   # cases received and closed per month: counts only
    generated_at: object  # an aware datetime: when this was read (the cache serves it up to its TTL afterwards)


def _ref(season: Season) -> SeasonRef:
    return SeasonRef(season.id, season.code, season.name, season.starts_on, season.ends_on, bool(season.is_active))


def season_ids(session: Session) -> set[int]:
    """Every season's id: the web layer's cache answers a chosen season it does not know without reading further."""
    return set(session.execute(select(Season.id)).scalars())


def disclosure(session: Session, season_id: int | None = None) -> Disclosure:
    """The public record of `season_id`, or of the active season when it is None. NotFound when there is no such
    season (or no active one)."""
    all_seasons = list(session.execute(select(Season).order_by(Season.starts_on.desc(), Season.id.desc())).scalars())
    if season_id is None:
        season = next((s for s in all_seasons if s.is_active), None)
    else:
        season = next((s for s in all_seasons if s.id == season_id), None)
    if season is None:
        raise NotFound("没有该采暖季的公开信息")

    rates = [Rate(r.product, r.category, r.from_kg, r.rate_fen) for r in session.execute(
        select(SubsidyRate).where(SubsidyRate.season_id == season.id)
        .order_by(SubsidyRate.product, SubsidyRate.category, SubsidyRate.from_kg)).scalars()]

    suppliers: dict[int, PublicSupplier] = {}
    for supplier_id, name, credit_code, town, product, price_fen in session.execute(
            select(Supplier.id, Supplier.name, Supplier.credit_code, Town.name, Contract.product, Contract.price_fen)
            .join(Contract, Contract.supplier_id == Supplier.id).join(Town, Town.id == Contract.town_id)
            .where(Contract.season_id == season.id)
            .order_by(Supplier.code, Contract.product, Town.code)):
        entry = suppliers.setdefault(supplier_id, PublicSupplier(name, credit_code))
        if product not in entry.products:
            entry.products.append(product)
        entry.prices.append(Price(town, product, price_fen))

    found = [PublicBatch(name, b.product, b.report_no, b.lab,
                         b.report_date or b.arrival_date or clock.local(b.created_at).date(),
                         b.volatile_cpct, b.sulfur_cpct, b.ash_cpct, b.calorific_kj_kg, bool(b.passed),
                         batch_rules.reasons(b), b.frozen_at is not None, reported(b), b.report_date)
             for b, name in session.execute(
                 select(Batch, Supplier.name).join(Supplier, Supplier.id == Batch.supplier_id)
                 .where(Batch.season_id == season.id).order_by(Batch.arrival_date.desc(), Batch.id.desc()))]

    checks = [PublicSpotCheck(name, product, batch_report_no, c.sampled_on, c.lab, c.report_no, bool(c.passed),
                              [r for r in c.failed_reasons.split("；") if r], reported(c))
              for c, name, product, batch_report_no in session.execute(
                  select(SpotCheck, Supplier.name, Batch.product, Batch.report_no)
                  .join(Supplier, Supplier.id == SpotCheck.supplier_id).join(Batch, Batch.id == SpotCheck.batch_id)
                  .where(SpotCheck.season_id == season.id)
                  .order_by(SpotCheck.sampled_on.desc(), SpotCheck.id.desc()))]

    zones = [ZoneVillage(town, village, zone) for town, village, zone in session.execute(
        select(Town.name, Village.name, Village.zone).join(Town, Town.id == Village.town_id)
        .where(Village.zone.in_([Zone.BAN, Zone.CLEAN_ONLY])).order_by(Town.code, Village.code))]

    return Disclosure(
        season=_ref(season), seasons=[_ref(s) for s in all_seasons], cap_coal_kg=season.cap_coal_kg,
        cap_stoves=season.cap_stoves, rates=rates, suppliers=list(suppliers.values()), batches=found,
        spot_checks=checks,
        ban=[z for z in zones if z.zone == Zone.BAN], clean_only=[z for z in zones if z.zone == Zone.CLEAN_ONLY],
        hotline=season.hotline or "", cases=[MonthCases(*row) for row in cases.monthly_counts(session, season.id)],
        generated_at=clock.now())
