"""Delivery pages: the delivery list (配送清单) with its filters and export, a village's printable route sheet, and
recording a slip's delivery (配送到户) with the scan of its signed copy on the slip's page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.core import clock
from subsidy.core.errors import Refused
from subsidy.delivery import deliveries
from subsidy.models import COPIES, Role, SlipStatus
from subsidy.sales import slips
from subsidy.policy import seasons
from web.deps import CurrentUser, DbSession, listed_season, season_param
from web import lists
from web.forms import MULTIPART, REFUSED_OR_DUPLICATE, UPLOAD_LIMIT, as_date, discard, is_number, uploaded
from web.guards import DELIVERY_READERS, SLIP_READERS, requires
from web.lists import ListArgs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _id(value: str | None) -> int | None:
    return int(value) if value and is_number(value) else None


def _pending(value: str | None) -> bool:
    """The list opens on what is not yet delivered; `pending=0` shows everything."""
    return value != "0"


def slip_delivery_context(session, user, slip) -> dict:
    """What the slip's page shows of its delivery, and whether the viewer may record it now."""
    shown = deliveries.of_slip(session, slip)
    return {"delivery": shown, "today": clock.today().isoformat(),
            "can_deliver": user.role == Role.SUPPLIER and slip.status == SlipStatus.ISSUED and shown.delivery is None}


class DeliveryPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/deliveries", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def index(self, request: Request, session: DbSession, user: CurrentUser, town_id: FromQuery[str | None] = None,
              village_id: FromQuery[str | None] = None, pending: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              page: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        town, village, only_pending = _id(town_id), _id(village_id), _pending(pending)
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        season = listed_season(request, session, season_id)  # asked for, else chosen at the top, else active
        listed = season.id if season else None
        pg = deliveries.delivery_list(session, user, town_id=town, village_id=village, pending=only_pending,
                                      season_id=listed, **args.fetch)
        filters = {"town_id": town or "", "village_id": village or "", "pending": "1" if only_pending else "0",
                   "season_id": season_param(season) or ""}
        return Template("delivery/index.html", context={
            "pg": pg, "rows": pg.items, "params": lists.params(filters, None, args),
            "season": season, "season_list": seasons.list_seasons(session),
            "options": deliveries.reach(session, user, season_id=listed), "capped_at": deliveries.COUNT_CAP,
            "export_query": urlencode([(k, v) for k, v in filters.items() if v])})

    @get("/deliveries.xlsx", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def export(self, request: Request, session: DbSession, user: CurrentUser, town_id: FromQuery[str | None] = None,
               village_id: FromQuery[str | None] = None, pending: FromQuery[str | None] = None,
               season_id: FromQuery[int | None] = None) -> Response:
        season = listed_season(request, session, season_id)
        body = deliveries.export_xlsx(session, user, town_id=_id(town_id), village_id=_id(village_id),
                                      pending=_pending(pending), season_id=season.id if season else None)
        return Response(body, media_type=XLSX, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote('配送清单.xlsx')}"})

    @get("/deliveries/route", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def route(self, request: Request, session: DbSession, user: CurrentUser, village_id: FromQuery[str | None] = None,
              pending: FromQuery[str | None] = None, season_id: FromQuery[int | None] = None) -> Template:
        """A village's route sheet (配送路单), A4: each household with what is left, and empty columns for the
        quantity delivered, the date and the household's signature."""
        village = _id(village_id)
        if village is None:
            raise Refused("请选择要打印路单的村（社区）", field="village_id")
        season = listed_season(request, session, season_id)
        listed = season.id if season else None
        rows = list(deliveries.iter_rows(session, user, village_id=village, pending=_pending(pending),
                                         season_id=listed))
        r = deliveries.reach(session, user, village_id=village, season_id=listed)
        town_id, village_name = r.villages[village]
        return Template("delivery/route.html", context={
            "rows": rows, "village": village_name, "town": r.towns.get(town_id, ""),
            "unit": deliveries.supplier_name(session, user), "today": clock.today(), "pending": _pending(pending)})

    @post("/slips/{number:str}/delivery", sync_to_thread=True, guards=[requires(Role.SUPPLIER)],
          request_max_body_size=UPLOAD_LIMIT)
    def record(self, session: DbSession, user: CurrentUser, number: FromPath[str],
               data: Annotated[dict, MULTIPART]) -> Template | Redirect:
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        try:
            deliveries.record_delivery(session, user=user, number=number, delivered_on=as_date(form, "delivered_on", "送达日期"),
                                       receiver=form.get("receiver", ""), photo=uploaded(data, "photo"))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            v = slips.view(session, slips.get_by_number(session, number))
            return Template("slips/detail.html", status_code=422 if isinstance(error, Refused) else 409, context={
                "v": v, "copies": COPIES, "can_void": v.voidable, "form": form, "error": error,
                "errors": error.errors, **slip_delivery_context(session, user, v.slip)})
        return Redirect(f"/slips/{number}?delivered=1", status_code=303)

    @get("/slips/{number:str}/delivery/photo", sync_to_thread=True, guards=[requires(*SLIP_READERS)])
    def photo(self, session: DbSession, number: FromPath[str]) -> Response:
        a = deliveries.photo_of(session, number)
        return Response(a.data, media_type=a.content_type, headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(a.filename)}", "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store"})


controllers = [DeliveryPages]
