"""Progress report in the JSON API (CONTRACT.md): per town in the caller's scope."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromQuery
from pydantic import BaseModel

from subsidy.reports import progress
from subsidy.models import Role
from web.api import API
from web.deps import DbSession
from web.guards import requires


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


controllers = [ReportsApi]
