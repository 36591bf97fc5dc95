"""Quality standards for coal products and the pass/fail decision on a test report (a supplier's or a spot check's).

A report's values are the `INDICATORS`, each named by its basis as a lab report prints it (Vdaf, St,d, Ad, Qnet,ar,
Mt, Hg,d, As,d, P,d, Cl,d, F,d), so that a clerk does not type an air-dried figure into a dry-basis field. Each is
stored as an integer in the smallest unit the lab reports (`places` decimals of its display unit): percentages in
hundredths of a percent (phosphorus and chlorine, which labs give to 0.001 %, in thousandths), the calorific value in
kJ/kg, mercury in ng/g (0.001 μg/g), arsenic and fluorine in whole μg/g, compressive strength in whole N per
briquette. A value the report does not give is None, never 0.

A standard (one product, one season) has one limit per indicator, each None for "not applicable"; it is chosen from
`PRESETS` and edited. The verdict (`failures`) names every failing value with its limit; a value the report does not
give is not judged (`unreported` lists the limits that could not be checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Refused, SubsidyError
from subsidy.models import COAL_PRODUCTS, Product, QualityStandard, Season
from subsidy.rules.measures import InvalidMeasure, parse_decimal
from subsidy.rules.text import clean_text


@dataclass(frozen=True)
class Indicator:
    key: str  # the form's and the API's field name
    column: str  # the column of a batch and of a spot check; the standard's limit is f"{kind}_{column}"
    label: str
    symbol: str  # the basis, as on a lab report
    unit: str
    places: int  # decimals the lab reports: the stored integer is the value times 10**places
    bound: int  # the physical upper bound, stored units: anything above is a typing or unit mistake
    kind: str  # "max": the value may not exceed the limit; "min": it may not fall below it
    required: bool = False  # on every report (the four the standards of seed 002 are stated in)
    briquette_only: bool = False

    @property
    def limit_column(self) -> str:
        return f"{self.kind}_{self.column}"

    @property
    def name(self) -> str:
        return f"{self.label} {self.symbol}" if self.symbol else self.label

    def show(self, value: int | None) -> str:
        """The stored integer as the lab writes it ("0.45", "24.500"), with its unit; "" for None."""
        if value is None:
            return ""
        number = f"{value / 10**self.places:.{self.places}f}" if self.places else str(value)
        return f"{number}{self.unit}" if self.unit == "%" else f"{number} {self.unit}"

    def parse(self, value, *, what: str = "") -> int | None:
        """Typed text or a JSON number into the stored integer; None when nothing is given and the value is optional.
        Refuses (InvalidMeasure naming `key`) a sign, more decimals than `places`, a value above `bound`."""
        label = f"{self.name}{what}"
        if not self.required and (value is None or (isinstance(value, str) and not value.strip())):
            return None
        top = self.show(self.bound)
        too_large = (f"{label}不能超过100%" if self.bound == 10000 and self.unit == "%"
                     else f"{label}不应超过 {top}，请核对数值和单位（{self.unit}）")
        try:
            return parse_decimal(value, places=self.places, label=label, field=self.key, max_value=self.bound,
                                 too_large=too_large, percent_sign=self.unit == "%",
                                 hint=f"单位为 {self.unit}" + (f"，最多{self.places}位小数" if self.places else "，整数"))
        except InvalidMeasure as error:
            if self.places == 0 and "最多保留0位小数" in error.message:  # a whole number, as the lab gives it
                raise InvalidMeasure(f"{label}应为整数（检测报告给到 1 {self.unit}）：“{str(value).strip()}”",
                                     field=self.key) from None
            raise


INDICATORS: tuple[Indicator, ...] = (
    Indicator("volatile_pct", "volatile_cpct", "挥发分", "Vdaf", "%", 2, 10000, "max", required=True),
    Indicator("sulfur_pct", "sulfur_cpct", "全硫", "St,d", "%", 2, 10000, "max", required=True),
    Indicator("ash_pct", "ash_cpct", "灰分", "Ad", "%", 2, 10000, "max", required=True),
    # No coal burns hotter than 40 MJ/kg: a larger number is a value typed in the wrong unit.
    Indicator("calorific_mj_kg", "calorific_kj_kg", "低位发热量", "Qnet,ar", "MJ/kg", 3, 40000, "min", required=True),
    Indicator("moisture_pct", "moisture_cpct", "全水分", "Mt", "%", 2, 10000, "max"),
    # Coal holds well under 50 μg/g of mercury (the 2014 rule's limit is 0.6): "600" is 0.600 typed in ng/g.
    Indicator("mercury_ug_g", "mercury_ng_g", "汞", "Hg,d", "μg/g", 3, 50_000, "max"),
    Indicator("arsenic_ug_g", "arsenic_ug_g", "砷", "As,d", "μg/g", 0, 2000, "max"),
    Indicator("phosphorus_pct", "phosphorus_mpct", "磷", "P,d", "%", 3, 5000, "max"),
    Indicator("chlorine_pct", "chlorine_mpct", "氯", "Cl,d", "%", 3, 5000, "max"),
    Indicator("fluorine_ug_g", "fluorine_ug_g", "氟", "F,d", "μg/g", 0, 5000, "max"),
    Indicator("strength_n", "strength_n", "冷压强度", "", "N/个", 0, 20000, "min", briquette_only=True),
    Indicator("drop_pct", "drop_cpct", "跌落强度", "", "%", 2, 10000, "min", briquette_only=True),
)
BY_KEY = {i.key: i for i in INDICATORS}
COLUMNS = tuple(i.column for i in INDICATORS)
LIMIT_COLUMNS = tuple(i.limit_column for i in INDICATORS)


def read_report(values: Mapping[str, object], errors: dict[str, str]) -> dict[str, int | None]:
    """A report's values by column, read from `values` by key; each refusal goes into `errors` by key."""
    measured: dict[str, int | None] = {}
    for indicator in INDICATORS:
        try:
            measured[indicator.column] = indicator.parse(values.get(indicator.key))
        except SubsidyError as error:
            errors[indicator.key] = error.message
    return measured


def read_limits(values: Mapping[str, object], errors: dict[str, str]) -> dict[str, int | None]:
    """A standard's limits by limit column, read from `values` by indicator key; empty means "not applicable"."""
    limits: dict[str, int | None] = {}
    for indicator in INDICATORS:
        raw = values.get(indicator.key)
        try:
            limits[indicator.limit_column] = (None if raw is None or (isinstance(raw, str) and not raw.strip())
                                              else indicator.parse(raw, what="上限" if indicator.kind == "max" else "下限"))
        except SubsidyError as error:
            errors[indicator.key] = error.message
    return limits


def failures(measured: Mapping[str, int | None], standard) -> list[str]:
    """Every value that fails the standard, each as a sentence naming the value and its limit; empty: it passes.
    `measured` maps columns to values (a dict, or anything with the columns as attributes); `standard` anything with
    the limit columns. A limit of None (not applicable) and a value the report does not give are not judged."""
    found = []
    for indicator in INDICATORS:
        limit = getattr(standard, indicator.limit_column)
        value = _value(measured, indicator.column)
        if limit is None or value is None:
            continue
        if indicator.kind == "max" and value > limit:
            found.append(f"{indicator.name} {indicator.show(value)} 超过上限 {indicator.show(limit)}")
        elif indicator.kind == "min" and value < limit:
            found.append(f"{indicator.name} {indicator.show(value)} 低于下限 {indicator.show(limit)}")
    return found


def unreported(measured, standard) -> list[str]:
    """The indicators the standard limits but the report does not give (not judged, shown to the bureau)."""
    return [i.name for i in INDICATORS
            if getattr(standard, i.limit_column) is not None and _value(measured, i.column) is None]


def _value(measured, column: str):
    return measured.get(column) if isinstance(measured, Mapping) else getattr(measured, column)


@dataclass(frozen=True)
class Judged:
    """One indicator of one report against one standard, for the pages (value, limit, verdict)."""

    indicator: Indicator
    value: int | None
    limit: int | None

    @property
    def ok(self) -> bool | None:
        """True or False when judged; None when the limit does not apply or the report does not give the value."""
        if self.value is None or self.limit is None:
            return None
        return self.value <= self.limit if self.indicator.kind == "max" else self.value >= self.limit

    @property
    def limit_text(self) -> str:
        if self.limit is None:
            return "不适用"
        return ("≤ " if self.indicator.kind == "max" else "≥ ") + self.indicator.show(self.limit)


def judged(measured, standard) -> list[Judged]:
    """Every indicator of a report beside the standard's limit (standard None: no limits)."""
    return [Judged(i, _value(measured, i.column), getattr(standard, i.limit_column) if standard else None)
            for i in INDICATORS]


# --- presets ---------------------------------------------------------------------------------------------------------
#
# Where each figure comes from (CONFIRMED / QUOTED below). The texts of GB 34169-2017 and GB 34170-2017 and of the
# 2014 rule (《商品煤质量管理暂行办法》) could not be reached when this was built (the stored reference search returned no
# page with their tables), so no national figure is confirmed here:
# - CONFIRMED: read in the seeds. Seed 001 (Linxia): 无烟2号 volatile <= 12 %, total sulfur <= 1 %, ash <= 30 %.
# - QUOTED: the figures as commonly quoted from the standards' tables and, for the 2014 floor, as issue #17 gives
#   them (Hg <= 0.6 μg/g, As <= 80 μg/g, P <= 0.15 %, Cl <= 0.3 %, F <= 200 μg/g, Ad <= 40 %, St,d <= 3 %); the bureau
#   checks them against the texts. Strength limits of GB 34170 are not quoted reliably: the presets leave them
#   "not applicable" for the bureau to fill in from the text.
CONFIRMED, QUOTED = "confirmed", "quoted"
STATUS_LABELS = {CONFIRMED: "已核实（种子文件 001 原文）", QUOTED: "常见引用值，待区发改局对照标准原文核实"}

# The 2014 national rule for all commercial coal: the floor under every preset's trace elements.
FLOOR_2014 = {"max_mercury_ng_g": 600, "max_arsenic_ug_g": 80, "max_phosphorus_mpct": 150, "max_chlorine_mpct": 300,
              "max_fluorine_ug_g": 200}


@dataclass(frozen=True)
class Preset:
    code: str
    name: str
    source: str
    limits: dict  # limit column -> value; columns left out are "not applicable"
    status: dict  # limit column -> CONFIRMED | QUOTED

    def limit(self, column: str) -> int | None:
        return self.limits.get(column)


def _preset(code: str, name: str, source: str, status: str, *, floor: bool = True, **limits) -> Preset:
    values = {**(FLOOR_2014 if floor else {}), **limits}
    return Preset(code, name, source, values, {column: (status if column in limits else QUOTED) for column in values})


PRESETS: dict[str, Preset] = {p.code: p for p in (
    _preset("gb34169_wy1", "GB 34169-2017 无烟1号", "GB 34169-2017《商品煤质量 民用散煤》无烟1号", QUOTED,
            max_volatile_cpct=1000, max_sulfur_cpct=40, max_ash_cpct=1250, min_calorific_kj_kg=25000),
    _preset("gb34169_wy2", "GB 34169-2017 无烟2号", "GB 34169-2017《商品煤质量 民用散煤》无烟2号", QUOTED,
            max_volatile_cpct=1000, max_sulfur_cpct=50, max_ash_cpct=1600, min_calorific_kj_kg=24000),
    _preset("gb34169_yy1", "GB 34169-2017 烟煤1号", "GB 34169-2017《商品煤质量 民用散煤》烟煤1号", QUOTED,
            max_sulfur_cpct=40, max_ash_cpct=1250, min_calorific_kj_kg=23000),
    _preset("gb34169_yy2", "GB 34169-2017 烟煤2号", "GB 34169-2017《商品煤质量 民用散煤》烟煤2号", QUOTED,
            max_sulfur_cpct=100, max_ash_cpct=1600, min_calorific_kj_kg=21000),
    _preset("gb34170_1", "GB 34170-2017 型煤1号", "GB 34170-2017《商品煤质量 民用型煤》型煤1号", QUOTED,
            max_volatile_cpct=1200, max_sulfur_cpct=50, max_ash_cpct=2500, min_calorific_kj_kg=21000),
    _preset("gb34170_2", "GB 34170-2017 型煤2号", "GB 34170-2017《商品煤质量 民用型煤》型煤2号", QUOTED,
            max_volatile_cpct=1200, max_sulfur_cpct=80, max_ash_cpct=3000, min_calorific_kj_kg=19000),
    # Seed 001: volatile, sulfur and ash as the plan states them; it names no calorific value and no trace element.
    _preset("linxia_wy2", "临夏市 无烟2号（种子文件 001）", "临夏市民用散煤无烟2号标准（甘工信发〔2019〕307号）",
            CONFIRMED, floor=False, max_volatile_cpct=1200, max_sulfur_cpct=100, max_ash_cpct=3000),
    _preset("floor_2014", "商品煤质量底线（2014年暂行办法）", "《商品煤质量管理暂行办法》（2014年）", QUOTED,
            max_ash_cpct=4000, max_sulfur_cpct=300),
)}
DEFAULT_PRESET = {Product.BRIQUETTE: "gb34170_1", Product.SEMI_COKE: "gb34169_wy1", Product.ANTHRACITE: "gb34169_wy1"}


def preset_values(code: str) -> dict:
    """The standard's columns (every limit, the source, the preset code) for a preset."""
    preset = PRESETS[code]
    return {**{column: preset.limit(column) for column in LIMIT_COLUMNS}, "source": preset.source, "preset": code}


def ensure_defaults(session: Session, season_id: int) -> None:
    have = set(session.execute(select(QualityStandard.product).where(QualityStandard.season_id == season_id)).scalars())
    for product, code in DEFAULT_PRESET.items():
        if product not in have:
            session.add(QualityStandard(season_id=season_id, product=product, **preset_values(code)))
    session.flush()


def standard_for(session: Session, season_id: int, product: str) -> QualityStandard | None:
    return session.execute(select(QualityStandard).where(QualityStandard.season_id == season_id,
                                                         QualityStandard.product == product)).scalar_one_or_none()


def standards_of(session: Session, season_id: int) -> list[QualityStandard]:
    """The season's standards in product order (briquette, semi-coke, anthracite)."""
    rows = {s.product: s for s in session.execute(
        select(QualityStandard).where(QualityStandard.season_id == season_id)).scalars()}
    return [rows[p] for p in COAL_PRODUCTS if p in rows]


def save_standard(session: Session, actor, season_id: int, product: str, *, source: str = "", preset: str = "",
                  **limits) -> QualityStandard:
    """The bureau sets one product's limits for one season: `limits` by indicator key (volatile_pct=..., ...), each
    empty or absent for "not applicable"; `preset` names the preset it started from (kept for the page). Batches
    and spot checks already decided keep their decision (judged by the standard in force when recorded)."""
    if product not in COAL_PRODUCTS:
        raise Refused("只有煤炭产品有质量标准", field="product")
    if session.get(Season, season_id) is None:
        raise Refused("采暖季不存在", field="season_id")
    errors: dict[str, str] = {}
    values: dict = read_limits(limits, errors)
    if preset and preset not in PRESETS:
        errors["preset"] = "没有这个标准模板"
    if errors:
        raise Refused("质量标准有误：" + "；".join(errors.values()), errors=errors)
    values["source"] = clean_text(source, "source", 200, label="依据") or "区发改局设定"
    values["preset"] = preset
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


def apply_preset(session: Session, actor, season_id: int, product: str, code: str) -> QualityStandard:
    """One product's standard set to a preset's limits (the bureau edits them afterwards)."""
    if code not in PRESETS:
        raise Refused("没有这个标准模板", field="preset")
    preset = PRESETS[code]
    limits = {i.key: (None if preset.limit(i.limit_column) is None else _as_text(i, preset.limit(i.limit_column)))
              for i in INDICATORS}
    return save_standard(session, actor, season_id, product, source=preset.source, preset=code, **limits)


def _as_text(indicator: Indicator, value: int) -> str:
    return f"{value / 10**indicator.places:.{indicator.places}f}" if indicator.places else str(value)


def limit_text(indicator: Indicator, value: int | None) -> str:
    """A limit as the standards form shows it in its input ("" for not applicable)."""
    return "" if value is None else _as_text(indicator, value)


def save_retest_days(session: Session, actor, season_id: int, days) -> Season:
    """The days a supplier has after a failed spot check for a passed re-test (1 to 365)."""
    season = session.get(Season, season_id)
    if season is None:
        raise Refused("采暖季不存在", field="season_id")
    value = parse_decimal(days, places=0, label="复检期限（天）", field="retest_days", max_value=365)
    if value < 1:
        raise Refused("复检期限至少为1天", field="retest_days")
    before = audit.snapshot(season)
    season.retest_days = value
    session.flush()
    audit.record(session, actor, "quality.retest_days_saved", season, before=before)
    return season
