"""The platform data set in the JSON API (CONTRACT.md, "Reporting upward"): GET /exports/{name}.csv?since= (and
.xlsx), for the bureau. The file streams from its own read (subsidy/reports/platform.py), not the request's
transaction, and its `X-High-Water-Mark` header is the `since` of the next call."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from subsidy.core import db
from subsidy.reports import platform
from web.api import API
from web.api.settlement import XLSX
from web.deps import CurrentUser
from web.guards import EXPORTERS, requires

CSV = "text/csv; charset=utf-8"
ZIP = "application/zip"


def _headers(filename: str, mark: str) -> dict[str, str]:
    return {"X-High-Water-Mark": mark, "Cache-Control": "no-store",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


def export_file(user, filename: str, since: str | None) -> Stream:
    """One file of the set, streamed; shared by the API and the page (web/pages/platform.py)."""
    ds, kind = platform.parse_filename(filename)
    engine = db.get_engine()
    snapshot = platform.open_snapshot(engine, since)
    writer = platform.stream_csv if kind == "csv" else platform.stream_xlsx
    return Stream(writer(engine, user, ds.name, snapshot), media_type=CSV if kind == "csv" else XLSX,
                  headers=_headers(f"{ds.name}.{kind}", snapshot.high_water_mark))


def export_set(user, since: str | None) -> Stream:
    """Every file (CSV and xlsx) and manifest.json in one zip, from one snapshot."""
    mark, chunks = platform.stream_zip(db.get_engine(), user, since)
    return Stream(chunks, media_type=ZIP, headers=_headers("platform.zip", mark))


class PlatformApi(Controller):
    path = API + "/exports"
    tags = ["reports"]
    guards = [requires(*EXPORTERS)]

    @get("/platform.zip", sync_to_thread=True)
    def whole_set(self, user: CurrentUser, since: FromQuery[str | None] = None) -> Stream:
        """The whole set with its manifest (row counts and SHA-256 per file)."""
        return export_set(user, since)

    @get("/{filename:str}", sync_to_thread=True)
    def file(self, user: CurrentUser, filename: FromPath[str], since: FromQuery[str | None] = None) -> Stream:
        """`households.csv`, `slips.xlsx`, ...: rows changed after `since` (the previous `X-High-Water-Mark`)."""
        return export_file(user, filename, since)


controllers = [PlatformApi]
