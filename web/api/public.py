"""The public page's JSON (CONTRACT.md, "Oversight"): `GET /api/v1/public?season_id=`, no login, cached with the
page (web/pages/public.py)."""

from __future__ import annotations

import json

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from web.api import API
from web.pages.public import as_json, cached_body


class PublicApi(Controller):
    path = API + "/public"

    @get("/", summary="The season's public record (信息公开), no login",
         description="rates, caps, suppliers with prices per town, batches with their test results, zones; "
                     "the active season, or `season_id`. Cached for 60 s. No personal data.")
    async def public(self, request: Request, season_id: FromQuery[str | None] = None) -> Response:
        body = await cached_body(request, "json", season_id,
                                 lambda d: json.dumps(as_json(d), ensure_ascii=False).encode("utf-8"))
        return Response(content=body, media_type="application/json")


controllers = [PublicApi]
