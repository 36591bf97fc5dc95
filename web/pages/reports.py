"""Progress and money report pages, with bar charts drawn as SVG on the server (no JavaScript)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from subsidy.core import clock
from subsidy.delivery import deliveries
from subsidy.reports import progress
from subsidy.reports import sheets
from subsidy.core.errors import Refused
from subsidy.models import Role
from web.api.settlement import xlsx
from web.deps import DbSession
from web.guards import REPORT_READERS, requires
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
            "town_target": progress.town_target_of_village(session),
            # How soon slips were delivered, per supplier and town (issue #16 item 5; subsidy/delivery/).
            "timeliness": deliveries.timeliness(session, month=month)})

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


controllers = [ReportPages]
