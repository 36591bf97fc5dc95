"""Jinja2: filters for money, quantities and masking, and the navigation by role."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode

from litestar.plugins.jinja import JinjaTemplateEngine as Engine
from litestar.template.config import TemplateConfig

from subsidy.core import clock, paging, people, scope
from subsidy.rules.idnumbers import mask_account, mask_phone
from subsidy.models import (
    CATEGORY_LABELS, PRODUCT_LABELS, REGISTRATION_STATUS_LABELS, ROLE_LABELS, SETTLEMENT_STATUS_LABELS,
    SLIP_STATUS_LABELS, SUMMARY_STATUS_LABELS, SUPPLIER_STATUS_LABELS, ZONE_LABELS, Role,
)
from subsidy.rules.money import hundredths, mj_per_kg, share_of, tons, yuan, yuan_in_capitals
from subsidy.core.settings import PROJECT_ROOT
from subsidy.settlement.summaries import Figures
from web import guards

# (label, path, roles): the menu. Each item's roles are the very set that guards its page (web/guards.py), so a role
# is offered exactly the pages it may open (tests/web/test_menu.py holds the two together). The items are in menu
# order; MENU_GROUPS puts them in the drop-down menus by task (首页 stands alone).
NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("首页", "/", guards.ALL_ROLES),
    ("住户登记", "/households", guards.REGISTRY_READERS),
    ("登记审核", "/registrations", guards.REGISTRY_READERS),
    ("开具销售单", "/slips/new", guards.SELLERS),
    ("销售单", "/slips", guards.SLIP_READERS),
    ("扫码登记", "/scans", guards.SCANNING_OFFICES),
    ("配送清单", "/deliveries", guards.DELIVERY_READERS),
    ("进货批次", "/batches", guards.STOCK_READERS),
    ("进销台账", "/ledger", guards.STOCK_READERS),
    ("配送企业", "/suppliers", guards.SUPPLIER_READERS),
    ("配送合同", "/contracts", guards.CONTRACT_READERS),
    ("月度汇总", "/summaries", guards.SUMMARY_READERS),
    ("结算支付", "/settlements", guards.SETTLEMENT_READERS),
    ("银行支付", "/payments", guards.PAYERS),
    ("月度对账", "/reconciliation", guards.RECONCILERS),
    ("进度报表", "/reports/progress", guards.REPORT_READERS),
    ("调度表", "/reports/dispatch", guards.DISPATCH_READERS),
    ("考核验收", "/reports/acceptance", guards.ACCEPTANCE_READERS),
    ("上报数据", "/exports", guards.EXPORTERS),
    ("投诉举报", "/cases", guards.CASE_READERS),
    ("异常预警", "/anomalies", guards.ANOMALY_READERS),
    ("抽检", "/quality", guards.SPOT_CHECK_READERS),
    ("采暖季政策", "/seasons", guards.SEASON_READERS),
    ("用户管理", "/admin/users", guards.ADMINS),
    ("区划管理", "/admin/regions", guards.REGION_EDITORS),
    ("审计日志", "/audit", guards.AUDIT_READERS),
]

# (group label, the paths of its items). Every NAV item but 首页 is in exactly one group.
MENU_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("登记", ("/households", "/registrations")),
    ("销售", ("/slips/new", "/slips", "/scans", "/deliveries", "/batches", "/ledger", "/suppliers", "/contracts")),
    ("结算", ("/summaries", "/settlements", "/payments", "/reconciliation")),
    ("报表", ("/reports/progress", "/reports/dispatch", "/reports/acceptance", "/exports")),
    ("监督", ("/cases", "/anomalies", "/quality")),
    ("系统", ("/seasons", "/admin/users", "/admin/regions", "/audit")),
]


def menu_for(role, current_path: str) -> dict:
    """The menu of `role` on the page at `current_path`: `home` (the 首页 item or None), `groups` as
    [(label, [(label, path)], is_current_group)] without empty groups, and `active`, the one item highlighted: the
    longest item path that is the page's path or a parent of it ("/slips/new" highlights 开具销售单, not 销售单;
    "/slips/X-1" highlights 销售单), or None."""
    offered = [(label, path) for label, path, roles in NAV if role in roles]
    paths = [path for _, path in offered]
    matching = [p for p in paths if current_path == p or (p != "/" and current_path.startswith(p + "/"))]
    active = max(matching, key=len) if matching else None
    by_path = dict((path, label) for label, path in offered)
    groups = []
    for label, members in MENU_GROUPS:
        items = [(by_path[p], p) for p in members if p in by_path]
        if items:
            groups.append((label, items, active in members))
    home = ("首页", "/") if "/" in by_path else None
    return {"home": home, "groups": groups, "active": active}


def offers(role, path: str) -> bool:
    """`{% if offers(me.role, "/reports/acceptance") %}`: whether the menu offers `role` the page at `path`, so that a
    link to a menu page elsewhere (a report's tabs, the seasons' list) is shown exactly to the roles its guard lets
    in. False for a path that is not a menu item."""
    return any(path == item and role in roles for _, item, roles in NAV)


def _whoami(user, person=None) -> str:
    """`{{ me|whoami(request.scope.person) }}`: who is signed in, said once in the header: "王文书 · 东关村（村/社区）",
    the person's name, then the unit (subsidy.core.people, read with the login session) and the role."""
    name = people.name_of(user)
    unit = person.unit if person is not None else ""
    role = ROLE_LABELS.get(user.role, user.role)
    if not unit or unit == name:
        return f"{name}（{role}）"
    # A bureau's unit is its role ("区发改局"): said once, not "孙海涛 · 区发改局（区发改局）".
    return f"{name} · {unit}" if unit == role else f"{name} · {unit}（{role}）"


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


def _account_for(account, viewer) -> str:
    """`{{ supplier.bank_account|account_for(me) }}`: whole or masked by subsidy.core.scope.SEES_BANK_ACCOUNTS."""
    return scope.show_account(viewer, account)


def _qs(params: dict, **changes) -> str:
    """`{{ params|qs(sort="number", page=1) }}`: a list's query string with some parameters changed; empty values
    are left out. (Lists never carry an ID number in their parameters: a search by one is POSTed.)"""
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in merged.items() if v not in (None, "")])


def _query_pairs(url: str) -> list[tuple[str, str]]:
    """`{% for name, value in url|query_pairs %}`: the parameters of a URL's query, for a GET form's hidden fields
    (a page-number pager's jump keeps the list's filters)."""
    return parse_qsl(url.partition("?")[2])


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
        "account_for": _account_for,
        "capitals": lambda fen: yuan_in_capitals(int(fen or 0)),
        "whoami": _whoami,
        "qs": _qs,
        "query_pairs": _query_pairs,
    })
    env.globals.update({
        "menu_for": menu_for,
        "offers": offers,
        "PAGE_SIZES": paging.PAGE_SIZES, "MAX_PAGE": paging.MAX_PAGE,
        "ROLE_LABELS": ROLE_LABELS, "ZONE_LABELS": ZONE_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
        "PRODUCT_LABELS": PRODUCT_LABELS,
    })


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=PROJECT_ROOT / "templates", engine=Engine, engine_callback=configure)
