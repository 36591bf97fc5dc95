"""Reports in the JSON API (CONTRACT.md): progress per town in the caller's scope, the dispatch sheet (调度表) and the
season's acceptance report (考核验收) as spreadsheets."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import FromQuery
from pydantic import BaseModel

from subsidy.core import clock, people
from subsidy.reports import progress, sheets
from subsidy.models import Role
from subsidy.rules import periods
from web.api import API
from web.api.settlement import xlsx
from web.deps import CurrentUser, DbSession
from web.guards import ACCEPTANCE_READERS, DISPATCH_READERS, requires


class TownProgressOut(BaseModel):
    town_id: int
    town: str
    target_coal_kg: int
    target_stoves: int
    registrations: int
    registered_coal_kg: int
    registered_stoves: int
    slip_count: int
    sold_coal_kg: int
    sold_stoves: int
    subsidy_fen: int
    coal_completion_pct: float | None
    stove_completion_pct: float | None


class ReportsApi(Controller):
    path = API + "/reports"
    tags = ["reports"]

    @get("/progress", sync_to_thread=True,
         guards=[requires(*(r for r in Role if r != Role.SUPPLIER))])
    def progress(self, session: DbSession, month: FromQuery[str | None] = None) -> list[TownProgressOut]:
        """Per town: targets, approved registrations, coal kg and stoves sold on issued slips, completion in %."""
        return [TownProgressOut(
            town_id=r.town_id, town=r.town, target_coal_kg=r.target_coal_kg, target_stoves=r.target_stoves,
            registrations=r.registrations, registered_coal_kg=r.registered_coal_kg,
            registered_stoves=r.registered_stoves, slip_count=r.slips, sold_coal_kg=r.sold_coal_kg,
            sold_stoves=r.sold_stoves, subsidy_fen=r.subsidy_fen,
            coal_completion_pct=None if r.coal_percent is None else round(r.coal_percent, 1),
            stove_completion_pct=None if r.stove_percent is None else round(r.stove_percent, 1),
        ) for r in progress.progress(session, month=month)]

    @get("/dispatch.xlsx", sync_to_thread=True, guards=[requires(*DISPATCH_READERS)])
    def dispatch_xlsx(self, session: DbSession, user: CurrentUser, period: FromQuery[str | None] = None,
                      date: FromQuery[str | None] = None) -> Response:
        """The dispatch sheet of the day, week (Monday to Sunday) or month containing `date` (China time); a town's
        own town. `period` defaults to week, `date` to today."""
        kind, day = periods.parse_kind(period), periods.parse_day(date, clock.today())
        return xlsx(*sheets.dispatch_xlsx(session, kind=kind, day=day, filled_by=people.of(session, user)))

    @get("/acceptance.xlsx", sync_to_thread=True, guards=[requires(*ACCEPTANCE_READERS)])
    def acceptance_xlsx(self, session: DbSession, season_id: FromQuery[int]) -> Response:
        """The season's acceptance report per town and in total: a draft while it runs, frozen once closed."""
        return xlsx(*sheets.acceptance_xlsx(session, season_id))


controllers = [ReportsApi]
