"""Progress and money report pages, with bar charts drawn as SVG on the server (no JavaScript)."""

from __future__ import annotations

from datetime import timedelta

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from subsidy.core import clock
from subsidy.delivery import deliveries
from subsidy.policy import seasons
from subsidy.reports import acceptance, dispatch, progress
from subsidy.reports import sheets
from subsidy.core.errors import Refused
from subsidy.models import (CASE_FINDING_LABELS, CASE_STATUS_LABELS, CATEGORY_LABELS, PRODUCT_LABELS, Role)
from subsidy.rules import periods
from web.api.settlement import xlsx
from web.deps import SEASON_COOKIE, DbSession, chosen_season_id, is_secure
from web.forms import FORM
from web.guards import ACCEPTANCE_READERS, DISPATCH_READERS, REPORT_READERS, requires
from subsidy.rules import months
from subsidy.rules.money import column_totals



def _month_or_none(month: str | None) -> str | None:
    return months.parse_month(month) if month else None


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [requires(*REPORT_READERS)]

    @get("/progress", sync_to_thread=True)
    def progress(self, request: Request, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        error = None
        try:
            month = _month_or_none(month)
        except Refused as refusal:
            error, month = refusal, None
        season_id = chosen_season_id(request, session)
        villages = progress.by_village(session)
        rows = progress.progress(session, month=month, villages=villages, season_id=season_id)
        return Template("reports/progress.html", context={
            "rows": rows, "total": progress.totals(rows), "month": month or "", "error": error,
            "this_month": months.month_of(clock.today()), "area_label": progress.area_label(session),
            "town_target": progress.town_target_of_village(session, season_id),
            "season": seasons.season_or_active(session, season_id),
            "last": None if month else progress.last_season(session, villages=villages, season_id=season_id),
            # How soon slips were delivered, per supplier and town (issue #16 item 5; subsidy/delivery/), in the
            # season the report is run for, like the rest of the page.
            "timeliness": deliveries.timeliness(session, season_id=season_id, month=month)})

    @get("/suppliers", sync_to_thread=True)
    def suppliers(self, request: Request, session: DbSession) -> Template:
        rows = progress.by_supplier_month(session, chosen_season_id(request, session))
        return Template("reports/suppliers.html", context={"rows": rows, "total": column_totals(
            rows, "slips", "coal_kg", "stoves", "amount_fen", "subsidy_fen")})

    @get("/money", sync_to_thread=True, guards=[requires(Role.FINANCE, Role.DRC, Role.AUDITOR, Role.ADMIN)])
    def money(self, session: DbSession) -> Template:
        return Template("reports/money.html", context={"money": progress.money(session)})

    @get("/monthly", sync_to_thread=True)
    def monthly(self, request: Request, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        month = _month_or_none(month) or months.month_of(clock.today())
        return Template("reports/monthly.html", context={
            "report": progress.monthly_report(session, month, chosen_season_id(request, session)),
                                                         "today": clock.today()})

    @get("/monthly.xlsx", sync_to_thread=True)
    def monthly_xlsx(self, request: Request, session: DbSession, month: FromQuery[str | None] = None) -> Response:
        month = _month_or_none(month) or months.month_of(clock.today())
        return xlsx(*sheets.monthly_report_xlsx(session, month, chosen_season_id(request, session)))



def _period(period: str | None, date: str | None) -> tuple[str, object]:
    return periods.parse_kind(period), periods.parse_day(date, clock.today())


def _dispatch_context(request: Request, session, kind: str, day) -> dict:
    report = dispatch.dispatch(session, kind=kind, day=day)
    query = f"period={kind}&date={day.isoformat()}"
    return {"report": report, "columns": dispatch.COLUMNS, "day": day, "kinds": list(periods.KINDS.items()),
            "one_day": timedelta(days=1),
            "person": request.scope.get("person"), "print_href": f"/reports/dispatch/print?{query}",
            "xlsx_href": f"/reports/dispatch.xlsx?{query}", "back_href": f"/reports/dispatch?{query}"}


def acceptance_season_id(request: Request, session, season_id: int | None) -> int:
    """The season asked for, else the one chosen for the session (the season picker), else the active one."""
    if season_id is not None:
        return season_id
    chosen = chosen_season_id(request, session)
    return chosen if chosen is not None else seasons.active_season(session).id


def _acceptance_context(session, season_id: int) -> dict:
    r = acceptance.report(session, season_id)
    return {"r": r, "town_names": {t["town_id"]: t["town"] for t in r.towns},
            "season_list": seasons.list_seasons(session), "product_labels": PRODUCT_LABELS,
            "category_labels": CATEGORY_LABELS, "case_status_labels": CASE_STATUS_LABELS,
            "finding_labels": CASE_FINDING_LABELS, "not_yet": acceptance.NOT_YET_REPORTED}


class SeasonChoice(Controller):
    """The season the reports and lists are run for, chosen once at the top and remembered for the browser session
    (web/deps.py: chosen_season_id): a past season's progress, acceptance report and lists."""

    path = "/reports/season"
    include_in_schema = False
    guards = [requires(*REPORT_READERS)]

    @get("/", sync_to_thread=True)
    def page(self, request: Request, session: DbSession, next: FromQuery[str | None] = None) -> Template:
        return Template("reports/season.html", context={
            "season_list": seasons.list_seasons(session), "chosen": chosen_season_id(request, session),
            "next": _local(next)})

    @post("/", sync_to_thread=True)
    def choose(self, request: Request, session: DbSession, data: Annotated[dict, FORM]) -> Redirect:
        raw = str(data.get("season_id") or "")
        season = seasons.season_or_active(session, int(raw) if raw.isdigit() else None)
        response = Redirect(_local(str(data.get("next") or "")), status_code=303)
        if season.is_active:
            response.delete_cookie(SEASON_COOKIE)
        else:
            response.set_cookie(SEASON_COOKIE, str(season.id), httponly=True, samesite="lax",
                                secure=is_secure(request))  # no max_age: for the browser session
        return response


def _local(path: str | None) -> str:
    """Where to go back to: a path of this site only (never another host), the progress report by default."""
    path = (path or "").strip()
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/reports/progress"


class DispatchPages(Controller):
    """The dispatch report (调度表): the page, its print and its spreadsheet."""

    path = "/reports/dispatch"
    include_in_schema = False
    guards = [requires(*DISPATCH_READERS)]

    @get("/", sync_to_thread=True)
    def page(self, request: Request, session: DbSession, period: FromQuery[str | None] = None,
             date: FromQuery[str | None] = None) -> Template:
        return Template("reports/dispatch.html", context=_dispatch_context(request, session, *_period(period, date)))

    @get("/print", sync_to_thread=True)
    def print_page(self, request: Request, session: DbSession, period: FromQuery[str | None] = None,
                   date: FromQuery[str | None] = None) -> Template:
        return Template("reports/dispatch_print.html",
                        context=_dispatch_context(request, session, *_period(period, date)))


class ReportFiles(Controller):
    """The spreadsheets of the reports upward, for the pages (the API has the same under /api/v1)."""

    path = "/reports"
    include_in_schema = False

    @get("/dispatch.xlsx", sync_to_thread=True, guards=[requires(*DISPATCH_READERS)])
    def dispatch_xlsx(self, request: Request, session: DbSession, period: FromQuery[str | None] = None,
                      date: FromQuery[str | None] = None) -> Response:
        kind, day = _period(period, date)
        return xlsx(*sheets.dispatch_xlsx(session, kind=kind, day=day, filled_by=request.scope.get("person")))

    @get("/acceptance.xlsx", sync_to_thread=True, guards=[requires(*ACCEPTANCE_READERS)])
    def acceptance_xlsx(self, request: Request, session: DbSession,
                        season_id: FromQuery[int | None] = None) -> Response:
        return xlsx(*sheets.acceptance_xlsx(session, acceptance_season_id(request, session, season_id)))


class AcceptancePages(Controller):
    """The season's acceptance report (考核验收): the page (the bureau closes the season from it) and its print."""

    path = "/reports/acceptance"
    include_in_schema = False
    guards = [requires(*ACCEPTANCE_READERS)]

    @get("/", sync_to_thread=True)
    def page(self, request: Request, session: DbSession, season_id: FromQuery[int | None] = None) -> Template:
        return Template("reports/acceptance.html", context=_acceptance_context(
            session, acceptance_season_id(request, session, season_id)))

    @get("/print", sync_to_thread=True)
    def print_page(self, request: Request, session: DbSession, season_id: FromQuery[int | None] = None) -> Template:
        return Template("reports/acceptance_print.html", context=_acceptance_context(
            session, acceptance_season_id(request, session, season_id)))


controllers = [ReportPages, SeasonChoice, DispatchPages, ReportFiles, AcceptancePages]
