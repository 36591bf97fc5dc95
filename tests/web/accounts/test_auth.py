"""Logging in and out, CSRF, lockout and throttling, one answer to every refused login, temporary passwords, API
tokens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from subsidy.accounts.auth import LOGIN_REFUSED
from subsidy.core import clock, db
from subsidy.core.settings import get_settings
from subsidy.demo import TOWNS, VILLAGES
from subsidy.models import LoginSession, User
from tests.clients import ApiClient, PageClient

DEMO_USERS = ["admin", "drc", "finance", "auditor", "coal-a", "coal-b", "stove-a"] + \
    [code for code, _, _ in TOWNS] + [code for code, *_ in VILLAGES]


def test_every_demo_user_can_log_in_and_sees_a_home_page(client_as):
    for username in DEMO_USERS:
        client = client_as(username)
        home = client.get("/")
        assert home.status_code == 200, username
        assert "您好" in home.text and "退出" in home.text


def test_pages_redirect_to_login_when_not_logged_in(app, demo):
    with PageClient(app) as client:
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_a_form_without_the_csrf_token_is_refused(app, demo):
    with PageClient(app) as client:
        client.get("/login")
        response = client.post("/login", data={"username": "admin", "password": "admin-demo"})
        assert response.status_code == 403
        assert "安全校验失败" in response.text
        assert "subsidy_session" not in client.cookies


def test_login_sets_a_new_httponly_session_and_ignores_a_planted_one(app, demo, engine):
    with PageClient(app) as client:
        client.cookies.set("subsidy_session", "planted-by-attacker", domain="testserver.local")
        response = client.submit("/login", {"username": "drc", "password": "drc-demo"}, follow_redirects=False)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert client.cookies.get("subsidy_session") != "planted-by-attacker"
    with db.new_session(engine) as s:
        stored = s.execute(select(LoginSession.token_hash)).scalars().all()
        assert len(stored) == 1 and len(stored[0]) == 64  # only the hash is kept


def test_logout_revokes_the_session(app, demo):
    with PageClient(app) as client:
        client.login("drc", "drc-demo")
        secret = client.cookies.get("subsidy_session")
        client.submit("/logout")
        with PageClient(app) as thief:
            thief.cookies.set("subsidy_session", secret, domain="testserver.local")
            assert thief.get("/", follow_redirects=False).status_code == 303


def test_the_fifth_wrong_password_locks_even_the_right_one_out_until_the_lock_expires(app, demo, frozen):
    frozen(datetime(2026, 12, 1, 2, 0))
    with PageClient(app) as client:
        for _ in range(5):
            response = client.submit("/login", {"username": "caiyuan", "password": "wrong-password1"})
            assert response.status_code == 422
            assert _alert(response) == LOGIN_REFUSED  # no count of the tries left: that would confirm the user
        right_while_locked = client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"})
        assert right_while_locked.status_code == 422 and _alert(right_while_locked) == LOGIN_REFUSED
        clock.advance(timedelta(minutes=14))
        assert _alert(client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"})) == LOGIN_REFUSED
        clock.advance(timedelta(minutes=2))
        after = client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"}, follow_redirects=False)
        assert after.status_code == 303


def test_the_lockout_also_holds_for_api_tokens(app, demo):
    with ApiClient(app) as client:
        for _ in range(5):
            assert client.post("/api/v1/auth/token", json={"username": "finance", "password": "nope"}).status_code == 401
        refused = client.post("/api/v1/auth/token", json={"username": "finance", "password": "finance-demo"})
        assert refused.status_code == 401 and refused.json()["detail"] == LOGIN_REFUSED


def _alert(page) -> str:
    return re.search(r'class="alert alert-error"[^>]*>(.*?)</', page.text, re.S).group(1).strip()


def _refusals(app, engine, post) -> dict[str, object]:
    """What a caller sees for each way a login fails, `post(username, password)` making one attempt."""
    with db.transaction(engine) as s:
        s.execute(update(User).where(User.username == "coal-b").values(is_active=False))
    for _ in range(5):
        post("caiyuan", "wrong-password1")
    return {"unknown user": post("nobody-here", "wrong-password1"),
            "wrong password": post("dongguan", "wrong-password1"),
            "locked, right password": post("caiyuan", "caiyuan-demo"),
            "disabled, right password": post("coal-b", "coal-b-demo")}


def test_every_refused_login_gets_the_same_answer_on_the_page(app, demo, engine):
    with PageClient(app) as client:
        answers = _refusals(app, engine, lambda username, password: client.submit(
            "/login", {"username": username, "password": password}))
    assert {kind: (page.status_code, _alert(page)) for kind, page in answers.items()} == \
        dict.fromkeys(answers, (422, LOGIN_REFUSED))


def test_every_refused_token_request_gets_the_same_answer(app, demo, engine):
    with ApiClient(app) as client:
        answers = _refusals(app, engine, lambda username, password: client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}))
    assert {kind: (answer.status_code, answer.json()) for kind, answer in answers.items()} == \
        dict.fromkeys(answers, (401, {"status_code": 401, "detail": LOGIN_REFUSED}))


@pytest.fixture
def behind_proxy(monkeypatch):
    """The app behind a reverse proxy that appends the client's address to X-Forwarded-For."""
    monkeypatch.setenv("SUBSIDY_TRUST_PROXY", "1")
    get_settings.cache_clear()
    yield lambda address: {"X-Forwarded-For": f"10.9.9.9, {address}"}  # the first hop is the client's own claim
    get_settings.cache_clear()


STRANGER, OFFICE = "198.51.100.7", "203.0.113.10"


def test_a_strangers_wrong_passwords_do_not_lock_the_finance_officer_out_of_the_office(app, demo, behind_proxy):
    with PageClient(app) as stranger, PageClient(app) as officer:
        for _ in range(8):
            stranger.submit("/login", {"username": "finance", "password": "guess-2026"}, headers=behind_proxy(STRANGER))
        assert stranger.submit("/login", {"username": "finance", "password": "finance-demo"},
                               headers=behind_proxy(STRANGER)).status_code == 422  # locked out: the stranger
        login = officer.submit("/login", {"username": "finance", "password": "finance-demo"},
                               headers=behind_proxy(OFFICE), follow_redirects=False)
        assert login.status_code == 303
    with ApiClient(app) as system:
        assert system.post("/api/v1/auth/token", json={"username": "finance", "password": "finance-demo"},
                           headers=behind_proxy(OFFICE)).status_code == 200


def test_an_address_over_its_limit_is_refused_for_every_account_until_the_block_ends(app, demo, frozen,
                                                                                      behind_proxy):
    frozen(datetime(2026, 12, 31, 8, 0))
    with PageClient(app) as client, ApiClient(app) as system:
        for attempt in range(20):  # a few tries at each of many names, known or not
            client.submit("/login", {"username": f"guess{attempt % 7}", "password": "guess-2026"},
                          headers=behind_proxy(STRANGER))
        for username in ("drc", "dongguan"):
            page = client.submit("/login", {"username": username, "password": f"{username}-demo"},
                                 headers=behind_proxy(STRANGER))
            assert page.status_code == 422 and _alert(page) == LOGIN_REFUSED
        token = system.post("/api/v1/auth/token", json={"username": "drc", "password": "drc-demo"},
                            headers=behind_proxy(STRANGER))
        assert token.status_code == 401 and token.json()["detail"] == LOGIN_REFUSED
        assert client.submit("/login", {"username": "drc", "password": "drc-demo"}, headers=behind_proxy(OFFICE),
                             follow_redirects=False).status_code == 303
        clock.advance(timedelta(minutes=16))
        assert client.submit("/login", {"username": "dongguan", "password": "dongguan-demo"},
                             headers=behind_proxy(STRANGER), follow_redirects=False).status_code == 303


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(app, demo):
    with PageClient(app) as client:
        for attempt in range(5):  # a new claimed address for every try changes nothing
            client.submit("/login", {"username": "caiyuan", "password": "wrong-password1"},
                          headers={"X-Forwarded-For": f"198.51.100.{attempt}"})
        assert client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"},
                             headers={"X-Forwarded-For": OFFICE}).status_code == 422


def test_a_user_with_a_temporary_password_must_change_it_first(app, demo, engine):
    with db.transaction(engine) as s:
        s.execute(update(User).where(User.username == "daimiao").values(must_change_password=True))
    with PageClient(app) as client:
        login = client.submit("/login", {"username": "daimiao", "password": "daimiao-demo"}, follow_redirects=False)
        assert login.headers["location"] == "/password"
        assert client.get("/", follow_redirects=False).headers["location"] == "/password"
        weak = client.submit("/password", {"old_password": "daimiao-demo", "new_password": "short",
                                           "confirm_password": "short"})
        assert weak.status_code == 422 and "至少8位" in weak.text
        done = client.submit("/password", {"old_password": "daimiao-demo", "new_password": "Taishan2026",
                                           "confirm_password": "Taishan2026"}, follow_redirects=False)
        assert done.status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 200


def test_changing_the_password_revokes_other_sessions(app, demo):
    with PageClient(app) as laptop, PageClient(app) as office:
        laptop.login("drc", "drc-demo")
        office.login("drc", "drc-demo")
        laptop.submit("/password", {"old_password": "drc-demo", "new_password": "NewPass2026",
                                    "confirm_password": "NewPass2026"})
        assert laptop.get("/", follow_redirects=False).status_code == 200
        assert office.get("/", follow_redirects=False).status_code == 303


def test_api_tokens_authenticate_and_are_required(app, demo):
    with ApiClient(app) as client:
        assert client.get("/api/v1/towns").status_code == 401
        body = client.authenticate("drc", "drc-demo")
        assert body["role"] == "drc" and body["expires_at"]
        assert client.get("/api/v1/towns").status_code == 200
        assert client.post("/api/v1/auth/logout").status_code == 204
        assert client.get("/api/v1/towns").status_code == 401


def test_a_disabled_users_token_stops_working(app, demo, engine):
    from subsidy.accounts import users

    with ApiClient(app) as client:
        client.authenticate("coal-b", "coal-b-demo")
        with db.transaction(engine) as s:
            target = s.execute(select(User).where(User.username == "coal-b")).scalar_one()
            users.set_active(s, None, target.id, False)
        assert client.get("/api/v1/towns").status_code == 401
