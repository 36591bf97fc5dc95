"""The administrator's pages: users, regions, the audit log; and who may open them."""

from __future__ import annotations

import re
from sqlalchemy import text, select, update

from subsidy.accounts.auth import LOGIN_REFUSED
from subsidy.core import audit, db
from subsidy.models import AuditEntry, LoginSession, Town, User, Village
from tests.clients import PageClient


def _ids(engine, model, **where):
    with db.new_session(engine) as s:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.execute(query).scalar_one()


def _temp_password(page_text: str) -> str:
    return re.search(r'id="temp-password">([^<]+)<', page_text).group(1)


def test_the_user_list_shows_role_scope_and_state(client_as):
    page = client_as("admin").get("/admin/users")
    assert page.status_code == 200
    row = re.search(r'<tr data-username="dongguan">(.*?)</tr>', page.text, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    role, scope = cells[2], cells[3]
    assert role == "村/社区"
    assert scope == "东关村"
    assert "启用" in row


def test_an_admin_creates_a_town_user_who_must_change_the_temporary_password(client_as, app, engine):
    admin = client_as("admin")
    town = _ids(engine, Town, code="daimiao")
    created = admin.submit("/admin/users/new", {"username": "clerk.dm", "display_name": "岱庙办事员", "role": "town",
                                                "town_id": str(town.id), "password": ""})
    assert created.status_code == 201
    password = _temp_password(created.text)
    stored = _ids(engine, User, username="clerk.dm")
    assert stored.role == "town" and stored.town_id == town.id and stored.must_change_password
    client = PageClient(app)
    login = client.submit("/login", {"username": "clerk.dm", "password": password}, follow_redirects=False)
    assert login.headers["location"] == "/password"
    assert client.get("/", follow_redirects=False).headers["location"] == "/password"


def test_a_new_user_needs_the_name_of_the_person_who_uses_it(client_as, engine):
    admin = client_as("admin")
    town = _ids(engine, Town, code="daimiao")
    form = {"username": "clerk.dm2", "role": "town", "town_id": str(town.id), "password": ""}
    for name in ("", "   "):
        page = admin.submit("/admin/users/new", {**form, "display_name": name})
        assert page.status_code == 422 and "请填写姓名" in page.text
    assert "控制字符" in admin.submit("/admin/users/new", {**form, "display_name": "杨\x07秀兰"}).text
    assert admin.submit("/admin/users/new", {**form, "display_name": " 杨  秀兰 "}).status_code == 201
    assert _ids(engine, User, username="clerk.dm2").display_name == "杨 秀兰"


def test_a_refused_new_user_shows_the_reason_and_keeps_what_was_typed(client_as):
    page = client_as("admin").submit("/admin/users/new", {"username": "clerk2", "display_name": "张三",
                                                          "role": "village", "password": ""})
    assert page.status_code == 422
    assert "村/社区用户须选择所属村/社区" in page.text
    assert 'value="clerk2"' in page.text and 'value="张三"' in page.text
    assert re.search(r'<option value="village"\s+selected', page.text)


def test_a_taken_username_is_refused_on_the_form(client_as):
    page = client_as("admin").submit("/admin/users/new", {"username": "drc", "display_name": "孙海涛", "role": "drc"})
    assert page.status_code == 422
    assert "该用户名已被使用" in page.text


def test_disabling_a_user_ends_their_sessions_and_tokens(client_as, api_as, engine):
    victim = client_as("caiyuan")
    token_client = api_as("caiyuan")
    assert victim.get("/").status_code == 200
    user = _ids(engine, User, username="caiyuan")
    response = client_as("admin").submit(f"/admin/users/{user.id}/disable")
    assert response.status_code == 200 and "已停用该用户" in response.text
    assert victim.get("/", follow_redirects=False).status_code == 303
    assert token_client.get("/api/v1/towns").status_code == 401
    login = PageClient(victim.app).submit("/login", {"username": "caiyuan", "password": "caiyuan-demo"})
    assert login.status_code == 422 and LOGIN_REFUSED in login.text  # the answer for any refused login
    client_as("admin").submit(f"/admin/users/{user.id}/enable")
    assert _ids(engine, User, username="caiyuan").is_active


def test_the_admin_cannot_disable_their_own_account_and_is_told_why(client_as, engine):
    me = _ids(engine, User, username="admin")
    page = client_as("admin").submit(f"/admin/users/{me.id}/disable")
    assert page.status_code == 422 and "不能停用自己的账户" in page.text
    assert _ids(engine, User, username="admin").is_active


def test_resetting_a_password_revokes_logins_and_forces_a_change(client_as, app, engine):
    victim = client_as("finance")
    user = _ids(engine, User, username="finance")
    page = client_as("admin").submit(f"/admin/users/{user.id}/reset-password", {"new_password": "Reset2027ab"})
    assert page.status_code == 200 and _temp_password(page.text) == "Reset2027ab"
    assert victim.get("/", follow_redirects=False).status_code == 303
    with db.new_session(engine) as s:
        assert s.execute(select(LoginSession).where(LoginSession.user_id == user.id,
                                                    LoginSession.revoked_at.is_(None))).first() is None
    fresh = PageClient(app)
    login = fresh.submit("/login", {"username": "finance", "password": "Reset2027ab"}, follow_redirects=False)
    assert login.headers["location"] == "/password"


def test_a_weak_reset_password_is_refused_with_the_reason(client_as, engine):
    user = _ids(engine, User, username="finance")
    page = client_as("admin").submit(f"/admin/users/{user.id}/reset-password", {"new_password": "short"})
    assert page.status_code == 422 and "密码至少8位" in page.text


def test_the_admin_unlocks_a_locked_user(client_as, app, engine):
    client = PageClient(app)
    for _ in range(5):
        client.submit("/login", {"username": "drc", "password": "wrong-password-1"})
    listing = client_as("admin").get("/admin/users")
    row = re.search(r'<tr data-username="drc">(.*?)</tr>', listing.text, re.S).group(1)
    assert "解锁" in row
    tile = re.search(r'<a class="tile urgent"[^>]*>\s*<span class="count">(\d+)</span>\s*<span class="label">被锁定的用户',
                     client_as("admin").get("/").text)
    assert tile and tile.group(1) == "1"  # locked at one address only: the administrator still hears of it
    user = _ids(engine, User, username="drc")
    assert client_as("admin").submit(f"/admin/users/{user.id}/unlock").status_code == 200
    login = client.submit("/login", {"username": "drc", "password": "drc-demo"}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"


def test_an_unknown_user_id_is_not_found(client_as):
    assert client_as("admin").submit("/admin/users/999999/disable").status_code == 404


def test_the_admin_and_the_drc_add_towns_and_villages_and_change_a_zone(client_as, engine):
    admin = client_as("admin")
    assert admin.submit("/admin/regions/towns", {"code": "xintown", "name": "新城街道"}).status_code == 200
    town = _ids(engine, Town, code="xintown")
    page = client_as("drc").submit("/admin/regions/villages", {"town_id": str(town.id), "code": "xincun",
                                                               "name": "新村", "zone": "clean_only"})
    assert page.status_code == 200 and "新村" in page.text
    village = _ids(engine, Village, code="xincun")
    assert village.zone == "clean_only" and village.town_id == town.id
    admin.submit(f"/admin/regions/villages/{village.id}/zone", {"zone": "ban"})
    assert _ids(engine, Village, code="xincun").zone == "ban"


def test_a_refused_village_keeps_what_was_typed_and_says_why(client_as, engine):
    town = _ids(engine, Town, code="caiyuan")
    page = client_as("admin").submit("/admin/regions/villages", {"town_id": str(town.id), "code": "Bad Code!",
                                                                 "name": "新建村", "zone": "normal"})
    assert page.status_code == 422
    assert "代码为2至32位小写字母" in page.text
    form = re.search(r'<form method="post" action="/admin/regions/villages" id="new-village">(.*?)</form>',
                     page.text, re.S).group(1)
    assert 'value="Bad Code!"' in form and 'value="新建村"' in form


def test_a_duplicate_town_code_is_refused_on_the_page(client_as):
    page = client_as("drc").submit("/admin/regions/towns", {"code": "caiyuan", "name": "重复街道"})
    assert page.status_code == 422 and "该街道/镇代码已存在" in page.text and 'value="重复街道"' in page.text


def test_admin_pages_are_refused_to_everyone_else(client_as):
    for username in ("drc", "finance", "auditor", "caiyuan", "dongguan", "coal-a"):
        assert client_as(username).get("/admin/users").status_code == 403, username
    for username in ("finance", "auditor", "caiyuan", "dongguan", "coal-a"):
        client = client_as(username)
        assert client.get("/admin/regions").status_code == 403, username
        assert client.submit("/admin/regions/towns", {"code": "zz", "name": "不该有"}).status_code == 403
    for username in ("drc", "finance", "caiyuan", "dongguan", "coal-a"):
        assert client_as(username).get("/audit").status_code == 403, username


def test_the_audit_log_lists_newest_first_filters_and_pages(client_as, engine):
    with db.transaction(engine) as s:
        admin = s.execute(select(User).where(User.username == "admin")).scalar_one()
        for number in range(60):
            audit.record(s, admin, "test.filler", "town", entity_id=number)
    auditor = client_as("auditor")
    page = auditor.get("/audit")
    assert page.status_code == 200
    ids = [int(x) for x in re.findall(r'<td class="num">(\d+)</td><td>', page.text)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 50
    assert "第 1/" in page.text
    second = [int(x) for x in re.findall(r'<td class="num">(\d+)</td><td>', auditor.get("/audit?page=2").text)]
    assert second and max(second) < min(ids)
    only = auditor.get("/audit?action=season.target_set")
    assert re.findall(r'<tr data-action="([a-z_.]+)"', only.text) == ["season.target_set"] * 3
    by_admin = auditor.get("/audit?who=admin&action=test.filler")
    assert len(re.findall(r'<tr data-action="test.filler"', by_admin.text)) == 50 and "共 60 条" in by_admin.text
    following = re.search(r'href="(/audit\?action=test.filler&amp;who=admin&amp;[^"]*after=[^"]+)" rel="next"',
                          by_admin.text)
    assert following, "the next page keeps the filters"
    rest = auditor.get(following.group(1).replace("&amp;", "&")).text
    assert len(re.findall(r'<tr data-action="test.filler"', rest)) == 10 and "第 2/2 页" in rest
    assert "没有符合条件的记录" in auditor.get("/audit?who=nobody-like-this").text


def test_the_verify_button_reports_a_sound_chain_and_then_the_tampered_entry(client_as, engine):
    auditor = client_as("auditor")
    assert "日志链校验通过" in auditor.get("/audit/verify").text
    with db.transaction(engine) as s:
        if engine.dialect.name == "postgresql":  # past the append-only triggers, as a database administrator could
            s.execute(text("SET LOCAL session_replication_role = replica"))
        entry = s.execute(select(AuditEntry).order_by(AuditEntry.id).offset(3).limit(1)).scalar_one()
        tampered = entry.id
        s.execute(update(AuditEntry).where(AuditEntry.id == tampered).values(after='{"forged":true}'))
    page = client_as("admin").get("/audit/verify")
    assert "日志链校验失败" in page.text and f"第一条异常记录编号 {tampered}" in page.text


def test_the_bureau_seals_and_prints_the_signed_head_and_the_auditor_checks_the_log_against_it(client_as):
    drc = client_as("drc")
    sealed = drc.submit("/audit/head")  # seals, then shows the head it made
    assert sealed.status_code == 200 and sealed.url.path == "/audit/head"
    printed = sealed.text
    seq = re.search(r'<td id="head-seq">(\d+)</td>', printed).group(1)
    digest = re.search(r'<code id="head-hash">([0-9a-f]{64})</code>', printed).group(1)
    auditor = client_as("auditor")
    good = auditor.get(f"/audit/verify?seq={seq}&head={digest}")
    assert "日志链校验通过" in good.text and f"打印凭证上的第 {seq} 次封存仍在日志中" in good.text
    forged = auditor.get(f"/audit/verify?seq={seq}&head={'0' * 64}")
    assert "日志链校验失败" in forged.text
    assert auditor.get("/audit/verify?seq=x&head=short").status_code == 422
    for username in ("dongguan", "caiyuan", "coal-a"):
        assert client_as(username).get("/audit/head").status_code == 403, username


def test_the_admin_is_not_offered_to_disable_their_own_account(client_as, engine):
    me, other = _ids(engine, User, username="admin"), _ids(engine, User, username="caiyuan")
    page = client_as("admin").get("/admin/users").text
    assert f'action="/admin/users/{other.id}/disable"' in page
    assert f'action="/admin/users/{me.id}/disable"' not in page and "当前登录账户" in page
