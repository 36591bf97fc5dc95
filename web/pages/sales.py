"""Slip pages: the counter workflow (lookup → lines → preview → confirm), lists and exports, detail, print, void,
and the scanning desk of the offices."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.core import paging
from subsidy.rules import barcodes, numbers
from subsidy.rules.text import clean_text
from subsidy.policy import regions, seasons
from subsidy.supply import batches
from subsidy.core.errors import Conflict, NotFound, Refused, SubsidyError
from subsidy.models import COPIES, COAL_PRODUCTS, PRODUCT_LABELS, Role, Season
from subsidy.rules.measures import parse_tons_to_kg
from web import lists
from web.deps import CurrentUser, DbSession, list_season_id
from web.lists import ListArgs
from web.forms import FORM, discard, is_number, refused
from web.guards import SCANNING_OFFICES, SELLERS, SLIP_READERS, requires
from web.pages.delivery import slip_delivery_context
from subsidy.sales import issuing, listing, scanning, slips, voiding
from subsidy.delivery import deliveries

READERS = SLIP_READERS
OFFICES = SCANNING_OFFICES
MAX_LINES = 6


def _line_count(form: dict) -> int:
    """How many line rows the form has (the counter starts with one; 添加一行 adds one)."""
    raw = str(form.get("line_count") or "1")
    return min(max(int(raw), 1), MAX_LINES) if raw.isdigit() else 1


def _lines_from_form(form: dict, count: int = MAX_LINES) -> list[issuing.LineIn]:
    lines = []
    for i in range(count):
        product = (form.get(f"product_{i}") or "").strip()
        qty_text = (form.get(f"quantity_{i}") or "").strip()
        if not qty_text and not (form.get(f"serial_{i}") or "").strip() and (not product or i > 0):
            continue  # an empty row (its product preselected or not)
        if not product:
            raise Refused("请选择产品", field=f"product_{i}")
        if not qty_text and product != "stove":
            raise Refused("请填写数量（吨）", field=f"quantity_{i}")
        try:
            if product == "stove":
                quantity = int(qty_text or "1")
            else:
                quantity = parse_tons_to_kg(qty_text)
        except (ValueError, Refused):
            raise Refused("数量格式不正确（燃煤填吨数，最多3位小数；炉具填台数）", field=f"quantity_{i}") from None
        batch = (form.get(f"batch_{i}") or "").strip()
        lines.append(issuing.LineIn(product, quantity, batch_id=int(batch) if is_number(batch) else None,
                                    serial=(form.get(f"serial_{i}") or "").strip() or None))
    return lines


def _map_field(error: Refused) -> Refused:
    """lines[0].serial → serial_0, so the page shows the reason next to the field."""
    errors = {}
    for key, message in error.errors.items():
        if key.startswith("lines[") and "]." in key:
            index, name = key[6:].split("].", 1)
            key = {"batch_id": "batch", "unit_price_fen": "quantity"}.get(name, name) + "_" + index
        errors[key] = message
    error.errors = errors
    return error


def _date_or_none(text: str | None) -> date | None:
    """A date typed in a jump (YYYY-MM-DD); anything else is no jump."""
    try:
        return date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


def _filter(day: str | None, month: str | None, town_id: int | None, status: str | None,
            household_id: int | None, buyer: str | None = None, number: str | None = None,
            season_id: int | None = None) -> listing.SlipFilter:
    try:
        the_day = date.fromisoformat(day) if day else None
    except ValueError:
        raise Refused("日期格式应为 YYYY-MM-DD", field="day") from None
    buyer = clean_text(buyer, "buyer", 40, label="购买人姓名")
    number = clean_text(number, "number", 32, label="销售单号")
    return listing.SlipFilter(season_id=season_id, day=the_day, month=month or None, town_id=town_id,
                              status=status or None, household_id=household_id, buyer=buyer or None,
                              number=number or None)


class SlipPages(Controller):
    path = "/"
    include_in_schema = False

    # --- the counter ------------------------------------------------------------------------------------------
    @get("/slips/new", sync_to_thread=False, guards=[requires(*SELLERS)])
    def new(self) -> Template:
        return Template("slips/new.html", context={"form": {}, "step": "lookup"})

    @post("/slips/new", sync_to_thread=True, guards=[requires(*SELLERS)])
    def counter(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        """One form, in steps: `lookup` (the ID number: what Enter in it always does), `add_line`, `preview` (lines
        priced, with the token that binds them) and `confirm` (issue exactly what was previewed, or nothing)."""
        step = data.get("step", "lookup")
        try:
            found = issuing.lookup(session, user=user, id_number=str(data.get("id_number", "")))
        except Refused as error:  # not an ID number
            return refused("slips/new.html", error, {"id_number": data.get("id_number", "")}, step="lookup")
        except NotFound as error:  # nobody who can buy under that ID number: the answer says why (issuing.lookup)
            return Template("slips/new.html", context={"form": {"id_number": data.get("id_number", "")},
                                                       "step": "lookup", "lookup_error": error}, status_code=422)
        offered = batches.available(session, supplier_id=user.supplier_id, season_id=found.season_id)
        context = {"found": found, "batches": offered, "stock_kg": {b.id: b.quantity_kg - b.sold_kg for b in offered},
                   "products": [(p, PRODUCT_LABELS[p]) for p in (*COAL_PRODUCTS, "stove") if p in found.prices],
                   "max_lines": MAX_LINES}
        if step not in ("add_line", "preview", "confirm"):  # a lookup: the lines start again
            return self._lines(context, {"id_number": data.get("id_number", "")}, 1)
        if str(found.registration.id) != str(data.get("registration_id", found.registration.id)):
            # Another buyer's number typed over the last one: a lookup of the new buyer, the lines start again.
            return self._lines(context, {"id_number": data.get("id_number", "")}, 1,
                               notice="身份证号已更换，已查询新的购买人；没有开具销售单，请重新填写销售内容")
        count = _line_count(data)
        if step == "add_line":
            return self._lines(context, data, min(count + 1, MAX_LINES))
        try:
            lines = _lines_from_form(data, count)
            if step == "preview":
                plan = issuing.plan(session, clerk=user, registration_id=found.registration.id,
                                    id_number=str(data.get("id_number", "")), lines=lines)
                return Template("slips/new.html", context={**context, "form": data, "step": "preview", "plan": plan,
                                                           "line_count": count})
            sale = {"clerk": user, "registration_id": found.registration.id,
                    "id_number": str(data.get("id_number", "")), "lines": lines,
                    "preview_token": str(data.get("preview_token", ""))}
            if data.get("at_door") == "1":  # issued at the door: its delivery recorded with it, or neither
                slip = deliveries.issue_at_the_door(session, receiver=str(data.get("receiver", "")), **sale)
            else:
                slip = issuing.issue_slip(session, **sale)
        except Refused as error:
            discard(session)  # a refused sale keeps nothing it took (the first line's stock)
            if "receiver" in error.errors:  # the sale itself passed: the preview stands, the name is to fix
                return refused("slips/new.html", error, data, step="preview", line_count=count, **context,
                               plan=issuing.plan(session, clerk=user, registration_id=found.registration.id,
                                                 id_number=str(data.get("id_number", "")), lines=lines))
            return refused("slips/new.html", _map_field(error), data, step="lines", line_count=count, **context)
        return Redirect(f"/slips/{slip.number}?issued=1{'&delivered=1' if data.get('at_door') == '1' else ''}",
                        status_code=303)

    @staticmethod
    def _lines(context: dict, form: dict, count: int, notice: str | None = None) -> Template:
        return Template("slips/new.html", context={**context, "form": form, "step": "lines", "line_count": count,
                                                   "notice": notice})

    # --- lists ------------------------------------------------------------------------------------------------
    @get("/slips", sync_to_thread=True, guards=[requires(*READERS)])
    def index(self, request: Request, session: DbSession, user: CurrentUser, page: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              day: FromQuery[str | None] = None, month: FromQuery[str | None] = None,
              town_id: FromQuery[int | None] = None, status: FromQuery[str | None] = None,
              household_id: FromQuery[int | None] = None, buyer: FromQuery[str | None] = None,
              number: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
              per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None,
              on: FromQuery[str | None] = None) -> Template:
        """`on`: jump to the slips of that day (by date, newest first unless sorted oldest first)."""
        flt = _filter(day, month, town_id, status, household_id, buyer, number,
                      list_season_id(request, session, season_id)).in_season(session)
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        jump = _date_or_none(on)
        if jump and paging.sort_key(sort, listing.SORTS, listing.DEFAULT_SORT).lstrip("-") != "issued_on":
            sort = listing.DEFAULT_SORT  # a date is found in an order by date
        pg = listing.list_slips(session, flt, sort=sort, at=jump, **args.fetch)
        season = session.get(Season, flt.season_id) if flt.season_id else None
        filters = {"season_id": None if season is None or season.is_active else season.id, "day": day,
                   "month": month, "town_id": town_id, "status": status, "household_id": household_id,
                   "buyer": flt.buyer, "number": flt.number}
        return Template("slips/index.html", context={
            "pg": pg, "params": lists.params(filters, paging.sort_key(sort, listing.SORTS, listing.DEFAULT_SORT),
                                             args),
            "form": {k: (v or "") for k, v in filters.items()},
            "season": season, "season_list": seasons.list_seasons(session),
            "household_id": household_id, "on": jump.isoformat() if jump else "",
            "towns": regions.towns(session), "export_query": urlencode(
                [(k, v) for k, v in filters.items() if v]),
            "deliveries": deliveries.of_listed_slips(session, pg.items),
            "town_names": {t.id: t.name for t in regions.towns(session)}})

    @get("/slips.xlsx", sync_to_thread=True, guards=[requires(*READERS)])
    def export(self, request: Request, session: DbSession, user: CurrentUser,
               season_id: FromQuery[int | None] = None, day: FromQuery[str | None] = None,
               month: FromQuery[str | None] = None, town_id: FromQuery[int | None] = None,
               status: FromQuery[str | None] = None, household_id: FromQuery[int | None] = None,
               buyer: FromQuery[str | None] = None, number: FromQuery[str | None] = None) -> Response:
        flt = _filter(day, month, town_id, status, household_id, buyer, number,
                      list_season_id(request, session, season_id))
        body = listing.export_xlsx(session, flt, viewer=user)
        return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="slips.xlsx"'})

    # --- one slip ---------------------------------------------------------------------------------------------
    @get("/slips/{number:str}", sync_to_thread=True, guards=[requires(*READERS)])
    def detail(self, session: DbSession, user: CurrentUser, number: FromPath[str], issued: FromQuery[int | None] = None,
               delivered: FromQuery[int | None] = None) -> Template:
        v = slips.view(session, slips.get_by_number(session, number))
        notice = ("销售单已开具并登记当场送达，请打印五联交付" if issued and delivered else
                  "销售单已开具，请打印五联交付" if issued else ("已登记送达" if delivered else None))
        return Template("slips/detail.html", context={"v": v, "copies": COPIES, "notice": notice,
                                                      "can_void": user.role == Role.SUPPLIER and v.voidable,
                                                      **slip_delivery_context(session, user, v.slip)})

    @get("/slips/{number:str}/print", sync_to_thread=True, guards=[requires(*READERS)])
    def print_page(self, session: DbSession, user: CurrentUser, number: FromPath[str], paper: FromQuery[str | None] = None,
                   layout: FromQuery[str | None] = None) -> Template:
        return print_template(session, user, number, paper, layout)

    @get("/slips/{number:str}/void", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def void_form(self, session: DbSession, number: FromPath[str]) -> Template:
        v = slips.view(session, slips.get_by_number(session, number))
        # A slip that can no longer be voided gets the reason instead of the form (issue 14, item 9).
        return Template("slips/void.html", context={"v": v, "form": {}, "refusal": v.void_refusal})

    @post("/slips/{number:str}/void", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def void(self, session: DbSession, user: CurrentUser, number: FromPath[str], data: Annotated[dict, FORM]
             ) -> Template | Redirect:
        try:
            voiding.void_slip(session, user=user, number=number, reason=str(data.get("reason", "")))
        except Refused as error:
            discard(session)
            v = slips.view(session, slips.get_by_number(session, number))
            return refused("slips/void.html", error, data, v=v, refusal=None)
        except Conflict as error:  # voided meanwhile, or its summary approved meanwhile: the reason, no form
            discard(session)
            v = slips.view(session, slips.get_by_number(session, number))
            return Template("slips/void.html", context={"v": v, "form": {}, "refusal": error.message},
                            status_code=409)
        return Redirect(f"/slips/{number}", status_code=303)

    # --- scanning ---------------------------------------------------------------------------------------------
    @get("/scans", sync_to_thread=False, guards=[requires(*OFFICES)])
    def scans(self, user: CurrentUser) -> Template:
        return Template("slips/scans.html", context={"form": {}, "copy": scanning.office_copy(user), "copies": COPIES})

    @post("/scans", sync_to_thread=True, guards=[requires(*OFFICES)])
    def scan(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template:
        context = {"form": {}, "copy": scanning.office_copy(user), "copies": COPIES, "code": data.get("code", "")}
        code = str(data.get("code", ""))
        try:
            slip, _ = scanning.record_scan(session, user=user, code=code)
        except scanning.WrongOffice as error:
            return self._scan_refused(session, context, code, error, "wrong_office")
        except scanning.AlreadyScanned as error:
            return self._scan_refused(session, context, code, error, "already")
        except scanning.VoidedSlip as error:
            return self._scan_refused(session, context, code, error, "voided")
        except (Refused, NotFound) as error:
            return self._scan_refused(session, context, code, error, "invalid")
        return Template("slips/scans.html", context={**context, "kind": "ok", "v": slips.view(session, slip)})

    @staticmethod
    def _scan_refused(session, context: dict, code: str, error: SubsidyError, kind: str) -> Template:
        """The desk shows every refused scan as its result (answered 200: the clerk scans on), with the slip when
        the code names one."""
        discard(session)
        v = None
        try:
            number, _ = numbers.parse_copy_code(code)
            v = slips.view(session, slips.get_by_number(session, number))
        except (ValueError, Refused, NotFound):
            pass
        return Template("slips/scans.html", context={**context, "error": error, "kind": kind, "v": v},
                        status_code=200)

    @get("/scans/missing", sync_to_thread=True, guards=[requires(*OFFICES)])
    def missing(self, session: DbSession, user: CurrentUser, page: FromQuery[str | None] = None,
                per_page: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
                after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
                count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        pg = scanning.missing_copies(session, user=user, sort=sort, **args.fetch)
        return Template("slips/missing.html", context={
            "pg": pg, "params": lists.params({}, paging.sort_key(sort, scanning.MISSING_SORTS, "issued_on"), args),
            "copy": scanning.office_copy(user), "copies": COPIES})


def print_template(session, user, number: str, paper: str | None, layout: str | None = None) -> Template:
    """The five copies on paper: `layout=copies` (default) one copy per part of blank continuous paper, or all five on
    one A4 sheet with `paper=a4`; `layout=continuous` one pass onto pre-printed five-part stationery."""
    v = slips.view(session, slips.get_by_number(session, number))
    svgs = {c: barcodes.barcode_svg(numbers.copy_code(v.slip.number, c)) for c in COPIES}
    return Template("print/slip.html", context={
        "v": v, "copies": COPIES, "svgs": svgs, "paper": "a4" if paper == "a4" else "form",
        "layout": "continuous" if layout == "continuous" else "copies",
        "hotline": session.get(Season, v.slip.season_id).hotline,
        "delivery": deliveries.of_slip(session, v.slip).delivery})


controllers = [SlipPages]
