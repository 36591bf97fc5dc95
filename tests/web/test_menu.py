"""The menu offers each role exactly the pages its guards let it open: built from the same role sets, it can neither
show a link that answers 403 nor hide a page the role may use."""

from __future__ import annotations

import re

import pytest

from subsidy.models import Role
from web.templating import NAV

# One demo persona per role.
PERSONAS = {Role.VILLAGE: "dongguan", Role.TOWN: "caiyuan", Role.SUPPLIER: "coal-a", Role.DRC: "drc",
            Role.FINANCE: "finance", Role.AUDITOR: "auditor", Role.ADMIN: "admin"}


def _guard_roles(app, path: str) -> frozenset[Role]:
    """The roles let in by every guard on the GET handler of `path` (its own, its controller's and the app's)."""
    handlers = [h for route in app.routes if route.path == path for h in route.route_handlers if "GET" in h.http_methods]
    assert len(handlers) == 1, path
    allowed = frozenset(Role)
    for guard in handlers[0].resolve_guards():
        allowed &= getattr(guard, "func", guard).roles
    return allowed


def test_each_menu_item_is_offered_to_the_roles_its_page_guard_lets_in(app):
    for label, path, roles in NAV:
        assert frozenset(roles) == _guard_roles(app, path), label


def _menu(page_text: str) -> list[str]:
    nav = re.search(r'<nav class="mainnav">(.*?)</nav>', page_text, re.S).group(1)
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("role", list(Role))
def test_every_page_a_role_is_offered_opens_and_every_page_it_is_not_offered_is_refused(client_as, role):
    client = client_as(PERSONAS[role])
    offered = _menu(client.get("/").text)
    assert offered == [path for _, path, roles in NAV if role in roles]
    for _, path, _ in NAV:
        response = client.get(path, follow_redirects=False)
        if path in offered:
            assert response.status_code == 200, (role, path, response.text[:300])
        else:
            assert response.status_code in (403, 302, 303), (role, path, response.status_code)
