"""Every answer carries the headers of web/security.py, and the templates keep to what its policy allows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAGES = ["/", "/households", "/slips", "/summaries", "/reports/progress", "/audit", "/no-such-page"]


def _assert_guarded(response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "same-origin"


@pytest.mark.parametrize("username", ["dongguan", "caiyuan", "coal-a", "drc", "auditor"])
def test_every_page_is_never_stored_and_cannot_be_framed(client_as, username):
    client = client_as(username)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        _assert_guarded(response)
        assert response.headers.get("cache-control") == "no-store", path


def test_api_answers_and_errors_are_never_stored(client_as, app):
    from tests.clients import ApiClient

    api = ApiClient(app)
    for answer in (api.get("/api/v1/towns"), api.post("/api/v1/auth/token", json={"username": "x", "password": "y"})):
        assert answer.status_code in (401, 422)
        _assert_guarded(answer)
        assert answer.headers.get("cache-control") == "no-store"


def test_the_login_page_and_static_files_carry_the_headers_and_only_static_files_may_be_cached(client_as):
    client = client_as("drc")
    login = client.get("/login")
    _assert_guarded(login)
    assert login.headers.get("cache-control") == "no-store"
    css = client.get("/static/app.css")
    assert css.status_code == 200
    _assert_guarded(css)
    assert css.headers.get("cache-control") != "no-store"


@pytest.mark.parametrize("path", ["/static/%00", "/static/a%00b.css", "/households/%01", "/api/v1/towns%00"])
def test_a_path_with_a_control_character_is_not_found_rather_than_a_server_error(client_as, path):
    response = client_as("drc").get(path)
    assert response.status_code == 404
    _assert_guarded(response)


def test_the_csrf_exemption_is_only_for_paths_that_start_with_the_api(app):
    from litestar.middleware._utils import build_exclude_path_pattern

    pattern = build_exclude_path_pattern(exclude=app.csrf_config.exclude)
    assert pattern.search("/api/v1/slips")
    assert not pattern.search("/households/api/")
    assert not pattern.search("/slips/new?next=/api/")


def test_no_template_has_an_inline_script_or_event_handler_attribute():
    """The policy allows scripts from /static only: an inline one would silently not run in the browser."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0):
                offenders.append(f"{path.name}: {match.group(0)}")
        offenders += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+\s*=", text)]
        offenders += [f"{path.name}: javascript:" for _ in re.finditer(r"javascript:", text)]
    assert offenders == []
