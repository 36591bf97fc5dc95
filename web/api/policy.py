"""Towns and villages in the JSON API (CONTRACT.md), so a client can fill its region choices without scraping pages;
closing a season; the season's case deadlines per category (its policy)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from litestar.params import FromPath, FromQuery, JSONBody
from web.deps import CurrentUser, DbSession
from litestar import Controller, get, post, put
from pydantic import BaseModel

from subsidy.core.scope import get_or_404
from subsidy.models import CaseCategory, Role, Season
from subsidy.oversight import cases
from subsidy.policy import regions
from subsidy.reports import acceptance
from web.api import API, Body
from web.guards import CASE_READERS, requires


class TownOut(BaseModel):
    id: int
    code: str
    name: str


class VillageOut(BaseModel):
    id: int
    code: str
    name: str
    town_id: int
    zone: str


class RegionsApi(Controller):
    path = API
    tags = ["regions"]

    @get("/towns", sync_to_thread=True)
    def towns(self, session: DbSession) -> list[TownOut]:
        """Towns in the caller's scope."""
        return [TownOut(id=t.id, code=t.code, name=t.name) for t in regions.towns(session)]

    @get("/villages", sync_to_thread=True)
    def villages(self, session: DbSession, town_id: FromQuery[int | None] = None) -> list[VillageOut]:
        """Villages in the caller's scope, optionally of one town."""
        return [VillageOut(id=v.id, code=v.code, name=v.name, town_id=v.town_id, zone=v.zone)
                for v in regions.villages(session, town_id)]


class SeasonClosedOut(BaseModel):
    id: int
    code: str
    name: str
    closed_at: datetime


class CaseDeadlinesIn(Body):
    """The days to handle a case, per category (`quality`, `short_weight`, ...); a category left out has 7."""

    deadlines: dict[str, int]
    service_names: ClassVar[dict[str, str]] = {f"deadline_{c}": f"deadlines.{c}" for c in CaseCategory}


class CaseDeadlinesOut(BaseModel):
    season_id: int
    deadlines: dict[str, int]


class SeasonsApi(Controller):
    path = API + "/seasons"
    tags = ["seasons"]

    @post("/{season_id:int}/close", sync_to_thread=True, guards=[requires(Role.DRC)], status_code=200)
    def close(self, session: DbSession, user: CurrentUser, season_id: FromPath[int]) -> SeasonClosedOut:
        """Close the season: no more registrations or slips in it (422 with the reason), everything stays readable,
        its acceptance report is frozen. 409 when it is already closed."""
        season = acceptance.close_season(session, user, season_id)
        return SeasonClosedOut(id=season.id, code=season.code, name=season.name, closed_at=season.closed_at)

    @get("/{season_id:int}/case-deadlines", sync_to_thread=True, guards=[requires(*CASE_READERS)])
    def case_deadlines(self, session: DbSession, season_id: FromPath[int]) -> CaseDeadlinesOut:
        """The season's days to handle a case, per category (every category; 7 where the policy sets none)."""
        season = get_or_404(session, Season, season_id)
        return CaseDeadlinesOut(season_id=season.id, deadlines=cases.deadline_days(session, season.id))

    @put("/{season_id:int}/case-deadlines", sync_to_thread=True, guards=[requires(Role.DRC)], status_code=200)
    def save_case_deadlines(self, session: DbSession, user: CurrentUser, season_id: FromPath[int],
                            data: JSONBody[CaseDeadlinesIn]) -> CaseDeadlinesOut:
        """Set the days per category (1 to 365; a category left out has 7): used for the cases opened from now on.
        422 naming each wrong value (`deadlines.quality`), an unknown category as `deadlines`."""
        saved = cases.save_deadlines(session, user, season_id, data.deadlines)
        return CaseDeadlinesOut(season_id=season_id, deadlines=saved)


controllers = [RegionsApi, SeasonsApi]
