"""Progress and money report pages, with bar charts drawn as SVG on the server (no JavaScript)."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from subsidy.core import clock
from subsidy.policy import seasons
from subsidy.reports import acceptance, dispatch, progress
from subsidy.reports import sheets
from subsidy.core.errors import Refused
from subsidy.models import (CASE_FINDING_LABELS, CASE_STATUS_LABELS, CATEGORY_LABELS, PRODUCT_LABELS, Role)
from subsidy.rules import periods
from web.api.settlement import xlsx
from web.deps import DbSession, chosen_season_id
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
    def progress(self, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        error = None
        try:
            month = _month_or_none(month)
        except Refused as refusal:
            error, month = refusal, None
        rows = progress.progress(session, month=month, villages=progress.by_village(session))
        return Template("reports/progress.html", context={
            "rows": rows, "total": progress.totals(rows), "month": month or "", "error": error,
            "this_month": months.month_of(clock.today()), "area_label": progress.area_label(session),
            "town_target": progress.town_target_of_village(session)})

    @get("/suppliers", sync_to_thread=True)
    def suppliers(self, session: DbSession) -> Template:
        rows = progress.by_supplier_month(session)
        return Template("reports/suppliers.html", context={"rows": rows, "total": column_totals(
            rows, "slips", "coal_kg", "stoves", "amount_fen", "subsidy_fen")})

    @get("/money", sync_to_thread=True, guards=[requires(Role.FINANCE, Role.DRC, Role.AUDITOR, Role.ADMIN)])
    def money(self, session: DbSession) -> Template:
        return Template("reports/money.html", context={"money": progress.money(session)})

    @get("/monthly", sync_to_thread=True)
    def monthly(self, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        month = _month_or_none(month) or months.month_of(clock.today())
        return Template("reports/monthly.html", context={"report": progress.monthly_report(session, month),
                                                         "today": clock.today()})

    @get("/monthly.xlsx", sync_to_thread=True)
    def monthly_xlsx(self, session: DbSession, month: FromQuery[str | None] = None) -> Response:
        month = _month_or_none(month) or months.month_of(clock.today())
        return xlsx(*sheets.monthly_report_xlsx(session, month))



def _period(period: str | None, date: str | None) -> tuple[str, object]:
    return periods.parse_kind(period), periods.parse_day(date, clock.today())


def _dispatch_context(request: Request, session, kind: str, day) -> dict:
    report = dispatch.dispatch(session, kind=kind, day=day)
    query = f"period={kind}&date={day.isoformat()}"
    return {"report": report, "day": day, "kinds": list(periods.KINDS.items()), "one_day": timedelta(days=1),
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
            "season_list": acceptance.seasons_for_choice(session), "product_labels": PRODUCT_LABELS,
            "category_labels": CATEGORY_LABELS, "case_status_labels": CASE_STATUS_LABELS,
            "finding_labels": CASE_FINDING_LABELS}


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


controllers = [ReportPages, DispatchPages, ReportFiles, AcceptancePages]
