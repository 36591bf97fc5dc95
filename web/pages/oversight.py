"""Pages of cases (投诉举报与问题线索): the list (filters, overdue marked), the new-case form, a case with its history
and the actions the viewer may take (accept, close with the finding, reopen); and of the anomaly flags (异常预警):
the list, a flag with its evidence, dismissing and confirming it, running the rules now."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import paging
from subsidy.core.errors import Refused
from subsidy.models import (
    ANOMALY_STATUS_LABELS, CASE_CATEGORY_LABELS, CASE_CHANNEL_LABELS, CASE_FINDING_LABELS, CASE_STATUS_LABELS, Role, Supplier, Town, User,
)
from subsidy.oversight import anomalies, cases
from web import lists
from subsidy.policy import seasons
from web.deps import CurrentUser, DbSession, listed_season, season_param
from web.lists import ListArgs
from web.forms import FORM, discard, is_number
from web.guards import ANOMALY_READERS, ANOMALY_REVIEWERS, CASE_READERS, CASE_WRITERS, requires

LABELS = {"CHANNELS": CASE_CHANNEL_LABELS, "CATEGORIES": CASE_CATEGORY_LABELS, "STATUSES": CASE_STATUS_LABELS,
          "FINDINGS": CASE_FINDING_LABELS, "ACTIONS": cases.ACTION_LABELS}


def _go(url: str) -> Redirect:
    return Redirect(quote(url, safe="/?=&-"), status_code=303)


def _towns(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Town.id, Town.name).order_by(Town.id)).all())


def _id(form: dict, key: str) -> int | None:
    """An optional id typed or chosen in a form; not a number is refused by its field."""
    raw = str(form.get(key) or "").strip()
    if not raw:
        return None
    if not is_number(raw):
        raise Refused("请填写正确的编号", field=key)
    return int(raw)


def _form_context(session: Session, user: User, form: dict) -> dict[str, Any]:
    suppliers = session.execute(select(Supplier.id, Supplier.name).order_by(Supplier.name)).all()
    return {"form": form, "towns": _towns(session), "suppliers": suppliers, **LABELS}


class CasePages(Controller):
    path = "/cases"
    include_in_schema = False
    guards = [requires(*CASE_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, status: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              category: FromQuery[str | None] = None, town_id: FromQuery[str | None] = None,
              overdue: FromQuery[str | None] = None, page: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        town = int(town_id) if town_id and is_number(town_id) else None
        status = status if status in CASE_STATUS_LABELS else None
        category = category if category in CASE_CATEGORY_LABELS else None
        season = listed_season(request, session, season_id)  # the season chosen at the top, else the active one
        pg = cases.list_cases(session, status=status, category=category, town_id=town, overdue=bool(overdue),
                              season_id=season.id if season else None, sort=sort, **args.fetch)
        filters = {"status": status, "category": category, "town_id": town, "overdue": "1" if overdue else None,
                   "season_id": season_param(season)}
        return Template("cases/index.html", context={
            "pg": pg, "params": lists.params(filters, paging.sort_key(sort, cases.SORTS, cases.DEFAULT_SORT), args),
            "status": status or "", "category": category or "", "town_id": town, "overdue": bool(overdue),
            "towns": _towns(session), "is_overdue": cases.is_overdue,
            "season": season, "season_list": seasons.list_seasons(session),
            "can_open": user.role in CASE_WRITERS, **LABELS})

    @get("/new", sync_to_thread=True, guards=[requires(*CASE_WRITERS)])
    def new(self, session: DbSession, user: CurrentUser, household_id: FromQuery[str | None] = None,
            slip_number: FromQuery[str | None] = None) -> Template:
        form = {"household_id": household_id or "", "slip_number": slip_number or ""}
        return Template("cases/new.html", context=_form_context(session, user, form))

    @post("/", sync_to_thread=True, guards=[requires(*CASE_WRITERS)])
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        try:
            case = cases.open_case(
                session, user, channel=form.get("channel", ""), category=form.get("category", ""),
                description=form.get("description", ""), household_id=_id(form, "household_id"),
                slip_number=form.get("slip_number") or None, supplier_id=_id(form, "supplier_id"),
                batch_id=_id(form, "batch_id"),
                town_id=_id(form, "town_id") if user.role != Role.TOWN else None)
        except Refused as error:
            discard(session)
            return Template("cases/new.html", status_code=422, context=_form_context(session, user, form) | {
                "error": error, "errors": error.errors})
        return _go(f"/cases/{case.id}?notice=已登记案件 {case.number}")

    @get("/{case_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
             notice: FromQuery[str | None] = None) -> Template:
        return Template("cases/show.html", context=self._show(session, user, case_id) | {"notice": notice})

    def _show(self, session: Session, user: User, case_id: int) -> dict[str, Any]:
        v = cases.view(session, case_id)
        return {"v": v, "case": v.case, "actions": cases.allowed_actions(user, v.case), "form": {}, "errors": {},
                **LABELS}

    def _act(self, session: Session, user: User, case_id: int, work, notice: str) -> Template | Redirect:
        try:
            work()
        except Refused as error:
            discard(session)
            return Template("cases/show.html", status_code=422, context=self._show(session, user, case_id) | {
                "error": error, "errors": error.errors})
        return _go(f"/cases/{case_id}?notice={notice}")

    @post("/{case_id:int}/accept", sync_to_thread=True, guards=[requires(*CASE_WRITERS)])
    def accept(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        return self._act(session, user, case_id, lambda: cases.accept(
            session, user, case_id, comment=str(data.get("comment", ""))), "已受理")

    @post("/{case_id:int}/close", sync_to_thread=True, guards=[requires(*CASE_WRITERS)])
    def close(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
              data: Annotated[dict, FORM]) -> Template | Redirect:
        return self._act(session, user, case_id, lambda: cases.close(
            session, user, case_id, finding=str(data.get("finding", "")), outcome=str(data.get("outcome", ""))),
            "已办结")

    @post("/{case_id:int}/reopen", sync_to_thread=True, guards=[requires(*CASE_WRITERS)])
    def reopen(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        return self._act(session, user, case_id, lambda: cases.reopen(
            session, user, case_id, comment=str(data.get("comment", ""))), "已重新办理")


# --- anomaly flags (异常预警) -------------------------------------------------------------------------------------------

ANOMALY_LABELS = {"RULES": {name: rule.title for name, rule in anomalies.RULES.items()},
                  "FLAG_STATUSES": ANOMALY_STATUS_LABELS}


class AnomalyPages(Controller):
    """The flags, newest first (filters by rule and status), a flag with its evidence and its review forms, and the
    bureau's button that runs the rules now."""

    path = "/anomalies"
    include_in_schema = False
    guards = [requires(*ANOMALY_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, rule: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              status: FromQuery[str | None] = None, page: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None, notice: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        rule = rule if rule in anomalies.RULES else None
        status = status if status in ANOMALY_STATUS_LABELS else None
        season = listed_season(request, session, season_id)  # the season chosen at the top, else the active one
        pg = anomalies.list_flags(session, rule=rule, status=status, season_id=season.id if season else None,
                                  sort=sort, **args.fetch)
        order = paging.sort_key(sort, anomalies.SORTS, anomalies.DEFAULT_SORT)
        return Template("anomalies/index.html", context={
            "pg": pg, "params": lists.params({"rule": rule, "status": status, "season_id": season_param(season)},
                                             order, args), "rule": rule or "",
            "season": season, "season_list": seasons.list_seasons(session),
            "status": status or "", "notice": notice, "figures_of": anomalies.figures_of,
            "can_review": user.role in ANOMALY_REVIEWERS, **ANOMALY_LABELS})

    @post("/run", sync_to_thread=True, guards=[requires(*ANOMALY_REVIEWERS)])
    def run(self, session: DbSession, user: CurrentUser) -> Redirect:
        result = anomalies.run(session, user)
        if result is None:
            return _go("/anomalies?notice=没有进行中的采暖季，未运行")
        if not result.ran:
            return _go("/anomalies?notice=其他进程正在运行异常预警，请稍后刷新")
        return _go(f"/anomalies?notice=已运行异常预警：新增{sum(result.raised.values())}条，"
                   f"待核查{sum(result.open.values())}条")

    def _show(self, session: Session, user: User, flag_id: int) -> dict[str, Any]:
        v = anomalies.view(session, user, flag_id)
        return {"v": v, "flag": v.flag, "rule": anomalies.RULES.get(v.flag.rule), "shown": anomalies.MEMBERS_SHOWN,
                "can_review": user.role in ANOMALY_REVIEWERS and v.flag.status in ("open", "cleared"),
                "errors": {}, **ANOMALY_LABELS}

    @get("/{flag_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, flag_id: FromPath[int],
             notice: FromQuery[str | None] = None) -> Template:
        return Template("anomalies/show.html", context=self._show(session, user, flag_id) | {"notice": notice})

    def _act(self, session: Session, user: User, flag_id: int, work) -> Template | Redirect:
        """Run the review `work()`, which answers where to go next; a refusal re-renders the flag with its reason."""
        try:
            url = work()
        except Refused as error:
            discard(session)
            return Template("anomalies/show.html", status_code=422, context=self._show(session, user, flag_id) | {
                "error": error, "errors": error.errors})
        return _go(url)

    @post("/{flag_id:int}/dismiss", sync_to_thread=True, guards=[requires(*ANOMALY_REVIEWERS)])
    def dismiss(self, session: DbSession, user: CurrentUser, flag_id: FromPath[int],
                data: Annotated[dict, FORM]) -> Template | Redirect:
        def work() -> str:
            anomalies.dismiss(session, user, flag_id, reason=str(data.get("reason", "")))
            return f"/anomalies/{flag_id}?notice=已排除该预警"
        return self._act(session, user, flag_id, work)

    @post("/{flag_id:int}/confirm", sync_to_thread=True, guards=[requires(*ANOMALY_REVIEWERS)])
    def confirm(self, session: DbSession, user: CurrentUser, flag_id: FromPath[int],
                data: Annotated[dict, FORM]) -> Template | Redirect:
        def work() -> str:
            flag = anomalies.confirm(session, user, flag_id, comment=str(data.get("comment", "")))
            return f"/cases/{flag.case_id}?notice=已确认异常预警，已登记为案件"
        return self._act(session, user, flag_id, work)


controllers = [CasePages, AnomalyPages]
