"""Jinja2: filters for money, quantities and masking, and the navigation by role."""

from __future__ import annotations

from datetime import date, datetime

from litestar.plugins.jinja import JinjaTemplateEngine as Engine
from litestar.template.config import TemplateConfig

from subsidy.core import clock, scope
from subsidy.rules.idnumbers import mask_account, mask_phone
from subsidy.models import (
    CATEGORY_LABELS, PRODUCT_LABELS, REGISTRATION_STATUS_LABELS, ROLE_LABELS, SETTLEMENT_STATUS_LABELS,
    SLIP_STATUS_LABELS, SUMMARY_STATUS_LABELS, SUPPLIER_STATUS_LABELS, ZONE_LABELS, Role,
)
from subsidy.rules.money import hundredths, mj_per_kg, share_of, tons, yuan
from subsidy.core.settings import PROJECT_ROOT
from subsidy.settlement.summaries import Figures
from web import guards

# (label, path, roles): the menu. Each item's roles are the very set that guards its page (web/guards.py), so a role
# is offered exactly the pages it may open (tests/web/test_menu.py holds the two together).
NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("首页", "/", guards.ALL_ROLES),
    ("住户登记", "/households", guards.REGISTRY_READERS),
    ("登记审核", "/registrations", guards.REGISTRY_READERS),
    ("开具销售单", "/slips/new", guards.SELLERS),
    ("销售单", "/slips", guards.SLIP_READERS),
    ("扫码登记", "/scans", guards.SCANNING_OFFICES),
    ("进货批次", "/batches", guards.STOCK_READERS),
    ("进销台账", "/ledger", guards.STOCK_READERS),
    ("月度汇总", "/summaries", guards.SUMMARY_READERS),
    ("结算支付", "/settlements", guards.SETTLEMENT_READERS),
    ("配送企业", "/suppliers", guards.SUPPLIER_READERS),
    ("配送合同", "/contracts", guards.CONTRACT_READERS),
    ("进度报表", "/reports/progress", guards.REPORT_READERS),
    ("投诉举报", "/cases", guards.CASE_READERS),
    ("采暖季政策", "/seasons", guards.SEASON_READERS),
    ("用户管理", "/admin/users", guards.ADMINS),
    ("区划管理", "/admin/regions", guards.REGION_EDITORS),
    ("审计日志", "/audit", guards.AUDIT_READERS),
]


def _date(value, fmt: str = "%Y-%m-%d") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.local(value).strftime(fmt if fmt != "%Y-%m-%d" else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime(fmt)
    return str(value)


def _label(mapping):
    return lambda value: mapping.get(value, value) if value is not None else ""


def _percent(part: int, whole: int) -> str:
    """`{{ sold|percent(target) }}`: a ratio of two quantities, "33.3%"; "—" without a target."""
    share = share_of(int(part or 0), int(whole or 0))
    return "—" if share is None else share + "%"


def _pct(value, trim: bool = False) -> str:
    """`{{ b.sulfur_cpct|pct }}%`: a percentage stored in hundredths of a percent (or basis points), "0.45";
    `pct(trim=true)` for shares, "40"; "" for none."""
    return "" if value is None else hundredths(int(value), trim=trim)


def _mj(value) -> str:
    """`{{ b.calorific_kj_kg|mj }} MJ/kg`: kJ/kg shown as MJ/kg, "24.50"; "" for none."""
    return "" if value is None else mj_per_kg(int(value))


def _days(value) -> str:
    """`{{ book.days_left|days }}`: days of stock left, whole days ("12"); "" for none."""
    return "" if value is None else str(int(value))


def _text_px(value, size: int = 12) -> float:
    """`{{ label|text_px(12) }}`: about how wide `value` is drawn at `size` px, for laying out the SVG charts: a CJK
    character (or a full-width sign) is one em, anything else about 0.6 of one."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in str(value))


def _kg(value) -> str:
    """`{{ r.in_kg|kg }}`: whole kilograms with thousands separators ("12,500"), as the ledger counts them."""
    return f"{int(value or 0):,}"


def _id_for(id_number, viewer, record: str) -> str:
    """`{{ h.id_number|id_for(me, "household") }}`: whole or masked by subsidy.core.scope.WHOLE_FOR."""
    return scope.show_id(viewer, record, id_number)


def _phone_for(phone, viewer, record: str) -> str:
    """`{{ h.phone|phone_for(me, "household") }}`: whole or masked by subsidy.core.scope.WHOLE_FOR."""
    return scope.show_phone(viewer, record, phone)


def configure(engine: Engine) -> None:
    env = engine.engine
    env.filters.update({
        "yuan": lambda fen: yuan(int(fen or 0)),
        "tons": lambda kg: tons(int(kg or 0)),
        "mask_phone": lambda s: mask_phone(s) if s else "",
        "mask_account": lambda s: mask_account(s) if s else "",
        "dt": _date,
        "role_label": _label(ROLE_LABELS),
        "zone_label": _label(ZONE_LABELS),
        "category_label": _label(CATEGORY_LABELS),
        "product_label": _label(PRODUCT_LABELS),
        "registration_status": _label(REGISTRATION_STATUS_LABELS),
        "slip_status": _label(SLIP_STATUS_LABELS),
        "summary_status": _label(SUMMARY_STATUS_LABELS),
        "settlement_status": _label(SETTLEMENT_STATUS_LABELS),
        "supplier_status": _label(SUPPLIER_STATUS_LABELS),
        "percent": _percent,
        # A summary's totals as the approval form carries them back (subsidy/settlement/summaries.py: Figures).
        "figures": lambda summary: Figures.of(summary).as_text(),
        "pct": _pct,
        "mj": _mj,
        "days": _days,
        "text_px": _text_px,
        "kg": _kg,
        "id_for": _id_for,
        "phone_for": _phone_for,
    })
    env.globals.update({
        "nav_for": lambda role: [(label, path) for label, path, roles in NAV if role in roles],
        "ROLE_LABELS": ROLE_LABELS, "ZONE_LABELS": ZONE_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
        "PRODUCT_LABELS": PRODUCT_LABELS,
    })


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=PROJECT_ROOT / "templates", engine=Engine, engine_callback=configure)
