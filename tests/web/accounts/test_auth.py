"""Logging in and out, CSRF, lockout, temporary passwords, API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from subsidy.core import clock, db
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


def test_the_sixth_wrong_password_is_refused_even_with_the_right_one_until_the_lock_expires(app, demo, frozen):
    frozen(datetime(2026, 12, 1, 2, 0))
    with PageClient(app) as client:
        for attempt in range(1, 5):
            response = client.submit("/login", {"username": "caiyuan", "password": "wrong-password1"})
            assert response.status_code == 422
            assert f"再错 {5 - attempt} 次" in response.text
        fifth = client.submit("/login", {"username": "caiyuan", "password": "wrong-password1"})
        assert "已锁定" in fifth.text
        right_while_locked = client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"})
        assert right_while_locked.status_code == 422 and "已锁定" in right_while_locked.text
        clock.advance(timedelta(minutes=14))
        assert "已锁定" in client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"}).text
        clock.advance(timedelta(minutes=2))
        after = client.submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"}, follow_redirects=False)
        assert after.status_code == 303


def test_the_lockout_also_holds_for_api_tokens(app, demo):
    with ApiClient(app) as client:
        for _ in range(5):
            assert client.post("/api/v1/auth/token", json={"username": "finance", "password": "nope"}).status_code == 401
        refused = client.post("/api/v1/auth/token", json={"username": "finance", "password": "finance-demo"})
        assert refused.status_code == 401 and "锁定" in refused.json()["detail"]


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
