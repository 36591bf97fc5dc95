"""Jinja2: filters for money, quantities and masking, and the navigation by role."""

from __future__ import annotations

from datetime import date, datetime

from litestar.plugins.jinja import JinjaTemplateEngine as Engine
from litestar.template.config import TemplateConfig

from subsidy.core import clock
from subsidy.rules.idnumbers import mask_account, mask_id_number, mask_phone
from subsidy.models import (
    CATEGORY_LABELS, PRODUCT_LABELS, REGISTRATION_STATUS_LABELS, ROLE_LABELS, SETTLEMENT_STATUS_LABELS,
    SLIP_STATUS_LABELS, SUMMARY_STATUS_LABELS, SUPPLIER_STATUS_LABELS, ZONE_LABELS, Role,
)
from subsidy.rules.money import tons, yuan
from subsidy.core.settings import PROJECT_ROOT
from subsidy.settlement.summaries import Figures

# (label, path, roles). Each area adds its entries here; a role sees only its own.
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("首页", "/", tuple(Role)),
    ("住户登记", "/households", ("village", "town", "drc", "finance", "auditor")),
    ("登记审核", "/registrations", ("village", "town", "drc", "auditor")),
    ("开具销售单", "/slips/new", ("supplier",)),
    ("销售单", "/slips", ("supplier", "town", "drc", "finance", "auditor")),
    ("扫码登记", "/scans", ("town", "drc", "finance")),
    ("进货批次", "/batches", ("supplier", "drc", "auditor")),
    ("进销台账", "/ledger", ("supplier", "drc", "auditor")),
    ("月度汇总", "/summaries", ("supplier", "town", "drc", "finance", "auditor")),
    ("结算支付", "/settlements", ("supplier", "finance", "drc", "auditor")),
    ("配送企业", "/suppliers", ("drc", "finance", "auditor", "supplier")),
    ("配送合同", "/contracts", ("drc", "auditor", "supplier", "town")),
    ("进度报表", "/reports/progress", ("village", "town", "drc", "finance", "auditor", "admin")),
    ("采暖季政策", "/seasons", ("drc", "admin", "finance", "auditor")),
    ("用户管理", "/admin/users", ("admin",)),
    ("区划管理", "/admin/regions", ("admin", "drc")),
    ("审计日志", "/audit", ("admin", "auditor")),
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
    if not whole:
        return "—"
    return f"{part * 100 / whole:.1f}%"


def configure(engine: Engine) -> None:
    env = engine.engine
    env.filters.update({
        "yuan": lambda fen: yuan(int(fen or 0)),
        "tons": lambda kg: tons(int(kg or 0)),
        "mask_id": lambda s: mask_id_number(s) if s else "",
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
    })
    env.globals.update({
        "nav_for": lambda role: [(label, path) for label, path, roles in NAV if role in roles],
        "ROLE_LABELS": ROLE_LABELS, "ZONE_LABELS": ZONE_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
        "PRODUCT_LABELS": PRODUCT_LABELS,
    })


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=PROJECT_ROOT / "templates", engine=Engine, engine_callback=configure)
