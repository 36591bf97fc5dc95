"""Towns and villages in the JSON API (CONTRACT.md), so a client can fill its region choices without scraping pages."""

from __future__ import annotations

from litestar.params import FromQuery
from web.deps import DbSession
from litestar import Controller, get
from pydantic import BaseModel

from subsidy.policy import regions
from web.api import API


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


controllers = [RegionsApi]
