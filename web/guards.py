"""Role guards. Scope (which records) is enforced below, in the session (subsidy/core/scope.py)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from subsidy.models import Role

# Who may open each part of the site. The controllers guard with these sets and the menu (web/templating.py: NAV)
# offers each item to exactly the set that guards its page, so the two cannot drift apart.
ALL_ROLES = tuple(Role)
REVIEWERS = (Role.TOWN, Role.DRC, Role.FINANCE)
DISTRICT = (Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
REGISTRY_READERS = (Role.VILLAGE, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
SELLERS = (Role.SUPPLIER,)
SLIP_READERS = (Role.SUPPLIER, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
SCANNING_OFFICES = (Role.TOWN, Role.DRC, Role.FINANCE)  # the offices that receive copies 3, 4 and 5
STOCK_READERS = (Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE, Role.ADMIN)  # batches and the ledger
SUMMARY_READERS = SLIP_READERS
SETTLEMENT_READERS = (Role.SUPPLIER, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
SUPPLIER_READERS = (Role.DRC, Role.FINANCE, Role.AUDITOR, Role.SUPPLIER, Role.ADMIN)
CONTRACT_READERS = (Role.DRC, Role.FINANCE, Role.AUDITOR, Role.SUPPLIER, Role.TOWN, Role.ADMIN)
REPORT_READERS = tuple(r for r in Role if r != Role.SUPPLIER)
DISPATCH_READERS = (Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR)  # the dispatch report (调度表): a town its own
ACCEPTANCE_READERS = (Role.DRC, Role.FINANCE, Role.AUDITOR)  # the season's acceptance report (考核验收)
SEASON_READERS = DISTRICT
ADMINS = (Role.ADMIN,)
REGION_EDITORS = (Role.ADMIN, Role.DRC)
AUDIT_READERS = (Role.ADMIN, Role.AUDITOR)
CASE_READERS = (Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR)  # cases (投诉举报): the town its own town's
CASE_WRITERS = (Role.TOWN, Role.DRC)
ANOMALY_READERS = (Role.DRC, Role.FINANCE, Role.AUDITOR)  # anomaly flags (异常预警): district-wide
ANOMALY_REVIEWERS = (Role.DRC,)
DELIVERY_READERS = (Role.SUPPLIER, Role.TOWN)  # the delivery list: the supplier its contracts', the town its own
# Spot checks (抽检): the bureau records them; towns read them (they arrange the exchanges of their slips).
SPOT_CHECK_READERS = (Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR)
EXPORTERS = (Role.DRC,)  # the platform data set: whole ID numbers, for the bureau alone (subsidy/reports/platform.py)
PAYERS = (Role.FINANCE,)  # bank files and results (subsidy/settlement/payments.py)
RECONCILERS = (Role.FINANCE, Role.DRC, Role.AUDITOR)  # the monthly reconciliation


def requires(*roles: Role):
    """A guard that lets in only users of these roles (401 when signed out, 403 for other roles); the roles stay
    readable as `guard.roles`, so a test can compare them with the menu."""
    allowed = {str(r) for r in roles}

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("未登录")
        if user.role not in allowed:
            raise PermissionDeniedException("您的角色无权进行此操作")

    guard.roles = frozenset(Role(r) for r in roles)
    return guard
