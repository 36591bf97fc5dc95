"""Progress and money report pages, with bar charts drawn as SVG on the server (no JavaScript)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from subsidy import clock, reports, settlement, settlement_excel
from subsidy.errors import SubsidyError
from subsidy.models import Role
from web.api.summaries import xlsx
from web.deps import DbSession
from web.guards import requires

NOT_SUPPLIER = tuple(r for r in Role if r != Role.SUPPLIER)


def _month_or_none(month: str | None) -> str | None:
    return settlement.parse_month(month) if month else None


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [requires(*NOT_SUPPLIER)]

    @get("/progress", sync_to_thread=True)
    def progress(self, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        error = None
        try:
            month = _month_or_none(month)
        except SubsidyError as refusal:
            error, month = refusal, None
        rows = reports.progress(session, month=month)
        return Template("reports/progress.html", context={
            "rows": rows, "total": reports.totals(rows), "month": month or "", "error": error,
            "this_month": settlement.month_of(clock.today())})

    @get("/suppliers", sync_to_thread=True)
    def suppliers(self, session: DbSession) -> Template:
        return Template("reports/suppliers.html", context={"rows": reports.by_supplier_month(session)})

    @get("/money", sync_to_thread=True, guards=[requires(Role.FINANCE, Role.DRC, Role.AUDITOR, Role.ADMIN)])
    def money(self, session: DbSession) -> Template:
        return Template("reports/money.html", context={"money": reports.money(session)})

    @get("/monthly", sync_to_thread=True)
    def monthly(self, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        month = _month_or_none(month) or settlement.month_of(clock.today())
        return Template("reports/monthly.html", context={"report": reports.monthly_report(session, month),
                                                         "today": clock.today()})

    @get("/monthly.xlsx", sync_to_thread=True)
    def monthly_xlsx(self, session: DbSession, month: FromQuery[str | None] = None) -> Response:
        month = _month_or_none(month) or settlement.month_of(clock.today())
        return xlsx(*settlement_excel.monthly_report_xlsx(session, month))


controllers = [ReportPages]
