"""Role guards. Scope (which records) is enforced below, in the session (subsidy/core/scope.py)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from subsidy.models import Role

REGISTRY_READERS = (Role.VILLAGE, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)


def requires(*roles: Role):
    allowed = {str(r) for r in roles}

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("未登录")
        if user.role not in allowed:
            raise PermissionDeniedException("您的角色无权进行此操作")

    return guard
