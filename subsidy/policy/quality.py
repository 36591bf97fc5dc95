"""Quality standards for coal products and the pass/fail decision on a batch's test report.

Values are integers: percentages in hundredths of a percent, calorific values in kJ/kg.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Refused, SubsidyError
from subsidy.models import COAL_PRODUCTS, Product, QualityStandard, Season
from subsidy.rules.measures import parse_mj, parse_percent
from subsidy.rules.text import clean_text

# Defaults for a new season. Seed 002 (the third-party-test requirement) names the two national standards the supply
# must meet: GB 34169-2017《商品煤质量 民用散煤》"无烟1号" and GB 34170-2017《商品煤质量 民用型煤》"型煤1号".
#
# Verification status of each number: the stored reference search (docs and pages corpora,
# queried for GB 34169-2017 / GB 34170-2017 / 无烟1号 / 型煤1号 with the indicator names) returned no page with the
# standards' tables, so NONE of the numbers below could be confirmed against the text of the standards here. They are
# the values as commonly quoted from the standards' tables, kept as defaults that the bureau can (and should) check and
# edit per season on /suppliers/standards:
# - semi_coke and anthracite, GB 34169-2017 表1 无烟1号 (unconfirmed here): volatile matter Vdaf <= 10.00%,
#   total sulfur St,d <= 0.40%, ash Ad <= 12.50%, net calorific value Qnet,ar >= 25.00 MJ/kg.
# - briquette, GB 34170-2017 型煤1号 (anthracite-type briquette; unconfirmed here): Vdaf <= 12.00%,
#   St,d <= 0.50%, Ad <= 25.00%, Qnet,ar >= 21.00 MJ/kg.
DEFAULT_STANDARDS: dict[str, dict] = {
    Product.BRIQUETTE: dict(max_volatile_cpct=1200, max_sulfur_cpct=50, max_ash_cpct=2500,
                            min_calorific_kj_kg=21000, source="GB 34170-2017 型煤1号（民用型煤）"),
    Product.SEMI_COKE: dict(max_volatile_cpct=1000, max_sulfur_cpct=40, max_ash_cpct=1250,
                            min_calorific_kj_kg=25000, source="GB 34169-2017 无烟1号（民用散煤）"),
    Product.ANTHRACITE: dict(max_volatile_cpct=1000, max_sulfur_cpct=40, max_ash_cpct=1250,
                             min_calorific_kj_kg=25000, source="GB 34169-2017 无烟1号（民用散煤）"),
}
# The Linxia plan (seed 001) sets its local limit for 无烟2号: volatile <= 12%, total sulfur <= 1%,
# ash <= 30% (confirmed from the seed). It names no calorific value, so the example has none. Shown on the standards
# page as an example of a looser local rule; never applied.
LINXIA_EXAMPLE = dict(max_volatile_cpct=1200, max_sulfur_cpct=100, max_ash_cpct=3000, min_calorific_kj_kg=None,
                      source="临夏市民用散煤无烟2号标准（甘工信发〔2019〕307号）")


@dataclass(frozen=True)
class Measured:
    volatile_cpct: int
    sulfur_cpct: int
    ash_cpct: int
    calorific_kj_kg: int


def failures(measured: Measured, standard: QualityStandard) -> list[str]:
    """The values that fail the standard, each as a sentence for the clerk; empty when the batch passes."""
    found = []
    if measured.volatile_cpct > standard.max_volatile_cpct:
        found.append(f"挥发分 {measured.volatile_cpct / 100:.2f}% 超过上限 {standard.max_volatile_cpct / 100:.2f}%")
    if measured.sulfur_cpct > standard.max_sulfur_cpct:
        found.append(f"全硫 {measured.sulfur_cpct / 100:.2f}% 超过上限 {standard.max_sulfur_cpct / 100:.2f}%")
    if measured.ash_cpct > standard.max_ash_cpct:
        found.append(f"灰分 {measured.ash_cpct / 100:.2f}% 超过上限 {standard.max_ash_cpct / 100:.2f}%")
    if measured.calorific_kj_kg < standard.min_calorific_kj_kg:
        found.append(f"发热量 {measured.calorific_kj_kg / 1000:.2f} MJ/kg 低于下限 "
                     f"{standard.min_calorific_kj_kg / 1000:.2f} MJ/kg")
    return found


def ensure_defaults(session: Session, season_id: int) -> None:
    have = set(session.execute(select(QualityStandard.product).where(QualityStandard.season_id == season_id)).scalars())
    for product, values in DEFAULT_STANDARDS.items():
        if product not in have:
            session.add(QualityStandard(season_id=season_id, product=product, **values))
    session.flush()


def standard_for(session: Session, season_id: int, product: str) -> QualityStandard | None:
    return session.execute(select(QualityStandard).where(QualityStandard.season_id == season_id,
                                                         QualityStandard.product == product)).scalar_one_or_none()


def standards_of(session: Session, season_id: int) -> list[QualityStandard]:
    """The season's standards in product order (briquette, semi-coke, anthracite)."""
    rows = {s.product: s for s in session.execute(
        select(QualityStandard).where(QualityStandard.season_id == season_id)).scalars()}
    return [rows[p] for p in COAL_PRODUCTS if p in rows]


def save_standard(session: Session, actor, season_id: int, product: str, *, volatile_pct, sulfur_pct, ash_pct,
                  calorific_mj_kg, source: str = "") -> QualityStandard:
    """The bureau sets one product's limits for one season. Batches already decided keep their decision (the test
    report was judged by the standard in force when it was recorded); new batches use the new limits."""
    if product not in COAL_PRODUCTS:
        raise Refused("只有煤炭产品有质量标准", field="product")
    if session.get(Season, season_id) is None:
        raise Refused("采暖季不存在", field="season_id")
    errors: dict[str, str] = {}
    values: dict = {}
    for key, column, label in (("volatile_pct", "max_volatile_cpct", "挥发分上限"),
                               ("sulfur_pct", "max_sulfur_cpct", "全硫上限"), ("ash_pct", "max_ash_cpct", "灰分上限")):
        try:
            values[column] = parse_percent(locals()[key], label, key)
        except SubsidyError as error:
            errors[key] = error.message
    try:
        values["min_calorific_kj_kg"] = parse_mj(calorific_mj_kg)
    except SubsidyError as error:
        errors["calorific_mj_kg"] = error.message
    if errors:
        raise Refused("质量标准有误：" + "；".join(errors.values()), errors=errors)
    values["source"] = clean_text(source, "source", 200, label="依据") or "区发改局设定"
    standard = standard_for(session, season_id, product)
    before = audit.snapshot(standard) if standard else None
    if standard is None:
        standard = QualityStandard(season_id=season_id, product=product, **values)
        session.add(standard)
    else:
        for key, value in values.items():
            setattr(standard, key, value)
    session.flush()
    audit.record(session, actor, "quality.standard_saved", standard, before=before)
    return standard
