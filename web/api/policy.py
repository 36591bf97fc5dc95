"""Towns and villages in the JSON API (CONTRACT.md), so a client can fill its region choices without scraping pages;
closing a season."""

from __future__ import annotations

from datetime import datetime

from litestar.params import FromPath, FromQuery
from web.deps import CurrentUser, DbSession
from litestar import Controller, get, post
from pydantic import BaseModel

from subsidy.models import Role
from subsidy.policy import regions
from subsidy.reports import acceptance
from web.api import API
from web.guards import requires


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


class SeasonsApi(Controller):
    path = API + "/seasons"
    tags = ["seasons"]

    @post("/{season_id:int}/close", sync_to_thread=True, guards=[requires(Role.DRC)], status_code=200)
    def close(self, session: DbSession, user: CurrentUser, season_id: FromPath[int]) -> SeasonClosedOut:
        """Close the season: no more registrations or slips in it (422 with the reason), everything stays readable,
        its acceptance report is frozen. 409 when it is already closed."""
        season = acceptance.close_season(session, user, season_id)
        return SeasonClosedOut(id=season.id, code=season.code, name=season.name, closed_at=season.closed_at)


controllers = [RegionsApi, SeasonsApi]
