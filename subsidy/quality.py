"""Quality standards for coal products and the pass/fail decision on a batch's test report.

Values are integers: percentages in hundredths of a percent, calorific values in kJ/kg.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.models import Product, QualityStandard

# Defaults for a new season. Sources (seed 002 names the two national standards the supply must meet):
# - briquette: GB 34170-2017《商品煤质量 民用型煤》, 型煤1号 (anthracite-type briquettes)
# - semi_coke and anthracite: GB 34169-2017《商品煤质量 民用散煤》, 无烟1号
# The Linxia plan (seed 001) uses the looser local 无烟2号 limit: volatile ≤ 12%, sulfur ≤ 1%, ash ≤ 30%.
DEFAULT_STANDARDS: dict[str, dict] = {
    Product.BRIQUETTE: dict(max_volatile_cpct=1200, max_sulfur_cpct=50, max_ash_cpct=2500,
                            min_calorific_kj_kg=21000, source="GB 34170-2017 型煤1号（民用型煤）"),
    Product.SEMI_COKE: dict(max_volatile_cpct=1000, max_sulfur_cpct=40, max_ash_cpct=1250,
                            min_calorific_kj_kg=25000, source="GB 34169-2017 无烟1号（民用散煤）"),
    Product.ANTHRACITE: dict(max_volatile_cpct=1000, max_sulfur_cpct=40, max_ash_cpct=1250,
                             min_calorific_kj_kg=25000, source="GB 34169-2017 无烟1号（民用散煤）"),
}
LINXIA_EXAMPLE = dict(max_volatile_cpct=1200, max_sulfur_cpct=100, max_ash_cpct=3000,
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
