"""The bureau's page of the platform data set (上报数据): each file to download from a `since`, the whole set with
its manifest, and what each column means (subsidy/reports/platform.py)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from litestar.response import Stream, Template

from subsidy.core.errors import Refused
from subsidy.reports import platform
from web.api.platform import export_file, export_set
from web.deps import CurrentUser
from web.guards import EXPORTERS, requires


class PlatformPages(Controller):
    path = "/exports"
    include_in_schema = False
    guards = [requires(*EXPORTERS)]

    @get("/", sync_to_thread=True)
    def index(self, since: FromQuery[str | None] = None) -> Template:
        error = None
        try:
            platform.parse_since(since)
        except Refused as refusal:
            error, since = refusal, None
        return Template("platform/exports.html", status_code=422 if error else 200, context={
            "datasets": list(platform.DATASETS.values()), "since": since or "", "error": error,
            "version": platform.FORMAT_VERSION})

    @get("/platform.zip", sync_to_thread=True)
    def whole_set(self, user: CurrentUser, since: FromQuery[str | None] = None) -> Stream:
        return export_set(user, since)

    @get("/{filename:str}", sync_to_thread=True)
    def file(self, user: CurrentUser, filename: FromPath[str], since: FromQuery[str | None] = None) -> Stream:
        return export_file(user, filename, since)


controllers = [PlatformPages]
