"""The public page (信息公开), `/public`, and its JSON twin `/api/v1/public`: no login, and cached so that a crowd
cannot load the database.

The cache: one per app (`app.state`), in process, keyed by the answer's kind (page or JSON) and the season asked for
(None: the active one). An entry is the rendered body, served for `TTL_SECONDS` after it was read; nothing
invalidates it, so a change (a new batch, a price, another active season) shows within `TTL_SECONDS`: staleness of
at most the TTL is accepted, and the page says so. A miss reads in a thread on a read-only session of its own (the
handlers take no `session` dependency, so a hit touches no connection); one miss per key reads at a time, the
requests behind it wait for its result. "Not found" (no active season, or a season id that does not exist) is cached
as well, and the known season ids are, so that made-up ids do not reach the database either.

The answers carry `Cache-Control: public, max-age=60` (web/security.py makes that exception for these two paths
only: they hold no personal data, see subsidy/reports/public.py). The rendered page is the same for everyone: it is
not built on base.html, whose menu names the signed-in user, and the auth middleware does not look the caller up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import anyio
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from subsidy.core import db
from subsidy.core.errors import NotFound
from subsidy.reports import public

TTL_SECONDS = 60
PAGE_PATH = "/public"
API_PATH = "/api/v1/public"
_MISSING = object()


class PublicCache:
    """Rendered answers by key for `ttl` seconds (monotonic clock, replaceable in tests)."""

    def __init__(self, ttl: float = TTL_SECONDS, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.now = ttl, now
        self.entries: dict[object, tuple[float, object]] = {}
        self.locks: dict[object, anyio.Lock] = {}
        self.loads = 0  # how many times the database was read: the tests count them

    def fresh(self, key: object) -> object:
        entry = self.entries.get(key)
        return entry[1] if entry is not None and entry[0] > self.now() else _MISSING

    async def get(self, key: object, load: Callable[[], object]) -> object:
        value = self.fresh(key)
        if value is not _MISSING:
            return value
        lock = self.locks.setdefault(key, anyio.Lock())
        async with lock:
            value = self.fresh(key)  # the request ahead of this one may have read it meanwhile
            if value is _MISSING:
                value = await anyio.to_thread.run_sync(load)
                self.loads += 1
                self.entries[key] = (self.now() + self.ttl, value)
        return value


def _read(reader: Callable) -> Callable[[], object]:
    def load() -> object:
        session = db.new_session(read_only=True)
        try:
            return reader(session)
        finally:
            try:
                db.end_read(session)
            finally:
                session.close()
    return load


async def _season_key(request: Request, season_id: str | None) -> int | None:
    """The chosen season's id (None for the active one); NotFound for an id that is no season's."""
    if season_id is None or season_id == "":
        return None
    if not season_id.isdigit():
        raise NotFound("没有该采暖季的公开信息")
    known = await request.app.state.public_cache.get("season_ids", _read(public.season_ids))
    if int(season_id) not in known:
        raise NotFound("没有该采暖季的公开信息")
    return int(season_id)


async def cached_body(request: Request, kind: str, season_id: str | None,
                      render: Callable[[public.Disclosure], bytes]) -> bytes:
    key = await _season_key(request, season_id)

    def read(session) -> bytes | None:
        try:
            return render(public.disclosure(session, key))
        except NotFound:
            return None

    body = await request.app.state.public_cache.get((kind, key), _read(read))
    if body is None:
        raise NotFound("当前没有进行中的采暖季" if key is None else "没有该采暖季的公开信息")
    return body


def as_json(d: public.Disclosure) -> dict:
    """The JSON of CONTRACT.md, "Oversight": `rates`, `caps`, `suppliers`, `batches`, `zones`, `hotline`, and the
    case counts per month (`cases`: month, received, closed); `spot_checks` besides. A batch's `tested_on` is its
    report's date (`report_date`, null when the supplier did not give it) or else its arrival date. `values` holds
    the values a report gives, by the API's keys (a value not reported is absent)."""
    def season(s: public.SeasonRef) -> dict:
        return {"id": s.id, "code": s.code, "name": s.name, "starts_on": s.starts_on.isoformat(),
                "ends_on": s.ends_on.isoformat(), "active": s.is_active}

    return {
        "season": season(d.season),
        "seasons": [season(s) for s in d.seasons],
        "rates": [asdict(r) for r in d.rates],
        "caps": {"coal_kg": d.cap_coal_kg, "stoves": d.cap_stoves},
        "suppliers": [{"name": s.name, "credit_code": s.credit_code, "products": list(s.products),
                       "prices": [asdict(p) for p in s.prices]} for s in d.suppliers],
        "batches": [{"supplier": b.supplier, "product": b.product, "report_no": b.report_no, "lab": b.lab,
                     "tested_on": b.tested_on.isoformat(),
                     "report_date": b.report_date.isoformat() if b.report_date else None,
                     "values": dict(b.report), "passed": b.passed, "failed_reasons": list(b.failed_reasons),
                     "frozen": b.frozen} for b in d.batches],
        "spot_checks": [{"supplier": c.supplier, "product": c.product, "batch_report_no": c.batch_report_no,
                         "sampled_on": c.sampled_on.isoformat(), "lab": c.lab, "report_no": c.report_no,
                         "values": dict(c.report), "passed": c.passed, "failed_reasons": list(c.failed_reasons)}
                        for c in d.spot_checks],
        "zones": {"ban": [{"town": z.town, "village": z.village} for z in d.ban],
                  "clean_only": [{"town": z.town, "village": z.village} for z in d.clean_only]},
        "hotline": d.hotline,
        "cases": [asdict(c) for c in d.cases],
        "generated_at": d.generated_at.isoformat(),
    }


class PublicPage(Controller):
    path = PAGE_PATH
    include_in_schema = False

    @get("/", media_type="text/html; charset=utf-8")
    async def page(self, request: Request, season_id: FromQuery[str | None] = None) -> Response:
        template = request.app.template_engine.get_template("public/index.html")
        body = await cached_body(request, "page", season_id,
                                 lambda d: template.render(d=d).encode("utf-8"))
        return Response(content=body, media_type="text/html; charset=utf-8")


controllers = [PublicPage]
