"""Administration pages: users (create, disable/enable, reset password, unlock), regions, and the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.core import audit, audit_text, clock, paging
from subsidy.policy import regions
from subsidy.accounts import users
from subsidy.models import ROLE_LABELS, ZONE_LABELS, Role
from web import lists
from web.lists import ListArgs
from web.deps import CurrentUser, DbSession
from web.forms import FORM, REFUSED_OR_DUPLICATE, discard, is_number, refused
from web.guards import ADMINS, AUDIT_READERS, REGION_EDITORS, requires

NOTICES = {
    "disabled": "已停用该用户，其登录和接口令牌已全部失效。",
    "enabled": "已启用该用户。",
    "unlocked": "已解除锁定。",
    "town": "已新增街道/镇。",
    "village": "已新增村/社区。",
    "zone": "已修改区域类型。",
}




def _optional_id(form: dict, key: str) -> int | None:
    raw = str(form.get(key) or "").strip()
    return int(raw) if is_number(raw) else None


class UsersController(Controller):
    path = "/admin/users"
    include_in_schema = False
    guards = [requires(*ADMINS)]

    def _list(self, session, args: ListArgs | None = None, role: str | None = None, active: str | None = None,
              sort: str | None = None, **context) -> dict:
        args = args or ListArgs.read()
        pg = users.users_page(session, role=role or None, active=active or None, sort=sort, **args.fetch)
        labels = users.scope_labels(session)
        return {"rows": [(u, users.label_of(labels, u)) for u in pg.items], "pg": pg,
                "params": lists.params({"role": role or "", "active": active or ""},
                                       paging.sort_key(sort, users.SORTS, "username"), args),
                "locked": users.locks(session, pg.items), **context}

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, page: FromQuery[str | None] = None, done: FromQuery[str | None] = None,
              role: FromQuery[str | None] = None, active: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        return Template("admin/users.html", context=self._list(session, args, role, active, sort,
                                                              notice=NOTICES.get(done or "")))

    def _new_context(self, session) -> dict:
        return {"choices": users.scope_choices(session),
                "roles": [(str(r), ROLE_LABELS[r]) for r in Role]}

    @get("/new", sync_to_thread=True)
    def new(self, session: DbSession) -> Template:
        return Template("admin/user_new.html", context={"form": {}, "errors": {}, **self._new_context(session)})

    @post("/new", sync_to_thread=True)
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template:
        form = {k: v for k, v in data.items() if k != "_csrf_token"}
        password = str(form.get("password") or "").strip() or users.temporary_password()
        try:
            created = users.create_user(
                session, user, username=str(form.get("username") or ""), role=str(form.get("role") or ""),
                password=password, display_name=str(form.get("display_name") or ""),
                town_id=_optional_id(form, "town_id"), village_id=_optional_id(form, "village_id"),
                supplier_id=_optional_id(form, "supplier_id"), temporary=True)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            form.pop("password", None)
            return refused("admin/user_new.html", error, form, **self._new_context(session))
        return Template("admin/password_issued.html", context={
            "subject": created.username, "password": password, "created": True}, status_code=201)

    @post("/{user_id:int}/disable", sync_to_thread=True)
    def disable(self, session: DbSession, user: CurrentUser, user_id: FromPath[int]) -> Template | Redirect:
        return self._act(session, lambda: users.set_active(session, user, user_id, False), "disabled")

    @post("/{user_id:int}/enable", sync_to_thread=True)
    def enable(self, session: DbSession, user: CurrentUser, user_id: FromPath[int]) -> Template | Redirect:
        return self._act(session, lambda: users.set_active(session, user, user_id, True), "enabled")

    @post("/{user_id:int}/unlock", sync_to_thread=True)
    def unlock(self, session: DbSession, user: CurrentUser, user_id: FromPath[int]) -> Template | Redirect:
        return self._act(session, lambda: users.unlock(session, user, user_id), "unlocked")

    def _act(self, session, work, done: str) -> Template | Redirect:
        try:
            work()
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("admin/users.html", context={**self._list(session), "error": error},
                            status_code=422)
        return Redirect(f"/admin/users?done={done}", status_code=303)

    @post("/{user_id:int}/reset-password", sync_to_thread=True)
    def reset_password(self, session: DbSession, user: CurrentUser, user_id: FromPath[int],
                       data: Annotated[dict, FORM]) -> Template:
        password = str(data.get("new_password") or "").strip() or users.temporary_password()
        try:
            target = users.reset_password(session, user, user_id, password)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("admin/users.html", context={**self._list(session), "error": error},
                            status_code=422)
        return Template("admin/password_issued.html", context={
            "subject": target.username, "password": password, "created": False})


class RegionsController(Controller):
    path = "/admin/regions"
    include_in_schema = False
    guards = [requires(*REGION_EDITORS)]

    def _context(self, session, **extra) -> dict:
        towns = regions.towns(session)
        by_town: dict[int, list] = {}
        for village in regions.villages(session):
            by_town.setdefault(village.town_id, []).append(village)
        return {"towns": towns, "by_town": by_town, "towns_options": [(t.id, t.name) for t in towns], "zones": list(ZONE_LABELS.items()),
                "town_form": {}, "village_form": {}, "town_errors": {}, "village_errors": {}, **extra}

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, done: FromQuery[str | None] = None) -> Template:
        return Template("admin/regions.html", context=self._context(session, notice=NOTICES.get(done or "")))

    @post("/towns", sync_to_thread=True)
    def create_town(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        try:
            regions.create_town(session, user, code=form.get("code", ""), name=form.get("name", ""))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("admin/regions.html", status_code=422, context=self._context(
                session, error=error, town_form=form, town_errors=error.errors))
        return Redirect("/admin/regions?done=town", status_code=303)

    @post("/villages", sync_to_thread=True)
    def create_village(self, session: DbSession, user: CurrentUser,
                       data: Annotated[dict, FORM]) -> Template | Redirect:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        try:
            regions.create_village(
                session, user, town_id=_optional_id(form, "town_id") or 0, code=form.get("code", ""),
                name=form.get("name", ""), zone=form.get("zone", ""))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("admin/regions.html", status_code=422, context=self._context(
                session, error=error, village_form=form, village_errors=error.errors))
        return Redirect("/admin/regions?done=village", status_code=303)

    @post("/villages/{village_id:int}/zone", sync_to_thread=True)
    def set_zone(self, session: DbSession, user: CurrentUser, village_id: FromPath[int],
                 data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            regions.set_zone(session, user, village_id, str(data.get("zone") or ""))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("admin/regions.html", status_code=422, context=self._context(session, error=error))
        return Redirect("/admin/regions?done=zone", status_code=303)


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip()) if (raw or "").strip() else None
    except ValueError:
        return None


class AuditController(Controller):
    path = "/audit"
    include_in_schema = False
    guards = [requires(*AUDIT_READERS)]

    @staticmethod
    def _filter(action, who, entity, entity_id, since, until) -> tuple[audit.LogFilter, dict, str]:
        """The filter, the form as typed, and a reason when a date was not one."""
        form = {"action": action or "", "who": who or "", "entity": entity or "", "entity_id": entity_id or "",
                "since": since or "", "until": until or ""}
        start, end = _day(since), _day(until)
        problem = "日期应为 年-月-日，例如 2026-12-01" if (since and not start) or (until and not end) else ""
        flt = audit.LogFilter(action=form["action"], who=form["who"], entity=form["entity"],
                              entity_id=form["entity_id"], since=start, until=end)
        return flt, form, problem

    def _context(self, session, flt: audit.LogFilter, form: dict, args: ListArgs | None = None, **extra) -> dict:
        args = args or ListArgs.read()
        pg = audit.entries_page(session, flt, **args.fetch)
        rows = pg.items
        query = {k: v for k, v in form.items() if v}
        return {"rows": audit_text.describe(session, rows), "pg": pg, "params": lists.params(form, None, args),
                "actions": audit_text.action_choices(audit.actions(session)),
                "entities": audit_text.entity_choices(), "form": form,
                "sealed": audit.sealed_ids(session, [e.id for e in rows]), "head": audit.head_of(session),
                "export_url": "/audit/export.xlsx" + ("?" + urlencode(query) if query else ""), **extra}

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, action: FromQuery[str | None] = None, who: FromQuery[str | None] = None,
              entity: FromQuery[str | None] = None, entity_id: FromQuery[str | None] = None,
              since: FromQuery[str | None] = None, until: FromQuery[str | None] = None,
              page: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        flt, form, problem = self._filter(action, who, entity, entity_id, since, until)
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        return Template("audit/index.html", status_code=422 if problem else 200,
                        context=self._context(session, flt, form, args, error=problem or None))

    @get("/export.xlsx", sync_to_thread=True)
    def export(self, session: DbSession, action: FromQuery[str | None] = None, who: FromQuery[str | None] = None,
               entity: FromQuery[str | None] = None, entity_id: FromQuery[str | None] = None,
               since: FromQuery[str | None] = None, until: FromQuery[str | None] = None) -> Response | Template:
        flt, form, problem = self._filter(action, who, entity, entity_id, since, until)
        if problem:
            return Template("audit/index.html", status_code=422,
                            context=self._context(session, flt, form, error=problem))
        name = f"审计日志-{clock.today():%Y%m%d}.xlsx"
        return Response(audit_text.export_xlsx(session, flt), media_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    @get("/verify", sync_to_thread=True)
    def verify(self, session: DbSession, seq: FromQuery[str | None] = None,
               head: FromQuery[str | None] = None) -> Template:
        """The whole check; with a head printed earlier (`seq`, `head`), also that it is still there unchanged."""
        expected = None
        flt, form, _ = self._filter(None, None, None, None, None, None)
        if (seq or "").strip() or (head or "").strip():
            if not (seq or "").strip().isdigit() or len((head or "").strip()) != 64:
                return Template("audit/index.html", status_code=422, context=self._context(
                    session, flt, form, head_error="请填写打印凭证上的封存序号和 64 位链头哈希"))
            expected = (int(seq.strip()), head.strip().lower())
        report = audit.verify(session, expected=expected)
        return Template("audit/index.html", context=self._context(session, flt, form, report=report,
                                                                  expected=expected))


class AuditHeadController(Controller):
    """The signed head of the audit log, for the bureau to print and file (for example at every month end): a later
    check against it proves that nothing logged up to it changed."""

    path = "/audit/head"
    include_in_schema = False
    guards = [requires(Role.ADMIN, Role.AUDITOR, Role.DRC, Role.FINANCE)]

    @get("/", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser) -> Template:
        return Template("audit/head.html", context={"head": audit.head_of(session), "user": user})

    @post("/", sync_to_thread=True)
    def seal_now(self, session: DbSession) -> Redirect:
        """Seal what was committed up to now, so that the printed head covers it."""
        audit.seal(session)
        return Redirect("/audit/head", status_code=303)


controllers = [UsersController, RegionsController, AuditController, AuditHeadController]
