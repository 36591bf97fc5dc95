"""Slips API (CONTRACT.md): issue, read, barcodes, print, void, scan, and the supplier's lookup by ID number."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from subsidy.rules import barcodes, numbers
from subsidy.core.errors import NotFound, Refused
from subsidy.models import Role, Slip, SlipLine, SlipScan
from subsidy.core.scope import Record, show_id, show_phone
from web.api import API, MAX_INT, Body, RowId
from web.api.idempotency import idempotent
from web.deps import CurrentUser, DbSession, end_write
from web.guards import requires
from subsidy.sales import issuing, scanning, slips, voiding
from subsidy.delivery import deliveries

READERS = (Role.SUPPLIER, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)


class LineIn(BaseModel):
    product: str
    quantity: int = Field(le=MAX_INT)  # kg or sets; zero and negatives are the rules' to refuse (issuing.plan)
    batch_id: RowId | None = None
    serial: str | None = None
    unit_price_fen: int | None = None


class AtTheDoorIn(BaseModel):
    receiver: str = Field(description="who received it at the door: the head or another adult of the household")


class SlipIn(Body):
    # The receiver is the delivery's (subsidy/delivery/deliveries.py: issue_at_the_door), named as sent.
    service_names = {"receiver": "delivery.receiver"}

    registration_id: RowId
    id_number: str = Field(description="the buyer's ID number as read from the ID card; must be the registration's "
                                        "household's (otherwise 404)")
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    delivery: AtTheDoorIn | None = Field(default=None, description=(
        "issued at the door (a supplier's van with a printer): the slip's delivery is recorded with it, today, to "
        "this receiver, in the same transaction; both or neither"))


class VoidIn(BaseModel):
    reason: str = ""


class ScanIn(BaseModel):
    code: str


class LookupIn(BaseModel):
    id_number: str


# --- the answers' shapes (CONTRACT.md) ------------------------------------------------------------------------------

def slip_json(slip: Slip, lines: list[SlipLine], supplier, scans: dict[int, SlipScan], viewer) -> dict:
    """A slip as the API answers it: the ID number and the phone as `viewer` may see them (masked for the supplier,
    subsidy/core/scope.py), the offices' copies scanned or not."""
    return {
        "number": slip.number, "status": slip.status, "issued_on": slip.issued_on.isoformat(),
        "supplier": {"id": supplier.id, "name": supplier.name, "credit_code": supplier.credit_code},
        "town_id": slip.town_id, "village_id": slip.village_id, "registration_id": slip.registration_id,
        "household": {"id": slip.household_id, "head_name": slip.head_name, "id_number": show_id(viewer, Record.SLIP, slip.id_number),
                      "phone": show_phone(viewer, Record.SLIP, slip.phone), "address": slip.address,
                      "category": slip.category},
        "lines": [{"line_no": ln.line_no, "product": ln.product, "quantity": ln.quantity, "batch_id": ln.batch_id,
                   "serial": ln.serial, "unit_price_fen": ln.unit_price_fen, "amount_fen": ln.amount_fen,
                   "subsidy_fen": ln.subsidy_fen} for ln in lines],
        "coal_kg": slip.coal_kg, "stoves": slip.stoves,
        "amount_fen": slip.amount_fen, "subsidy_fen": slip.subsidy_fen, "household_pays_fen": slip.household_pays_fen,
        "void_reason": slip.void_reason or None,
        "scans": {str(c): ({"scanned": True, "at": sc.scanned_at.isoformat()} if (sc := scans.get(c))
                           else {"scanned": False}) for c in (3, 4, 5)},
        "summary_id": slip.summary_id,
    }


def delivery_json(shown: deliveries.SlipDelivery) -> dict | None:
    """A slip's `delivery` (CONTRACT.md, "Delivery and verification"), or None before it is delivered."""
    d = shown.delivery
    if d is None:
        return None
    return {"delivered_on": d.delivered_on.isoformat(), "receiver": d.receiver, "receiver_is_head": d.receiver_is_head,
            "recorded_by": shown.recorded_by, "recorded_at": d.recorded_at.isoformat(),
            "days_since_issue": shown.days_since_issue, "photo": d.photo_attachment_id is not None}


def view_json(v: slips.SlipView, viewer) -> dict:
    return slip_json(v.slip, v.lines, v.supplier, v.scans, viewer)


def slip_with_delivery(session, slip: Slip, viewer) -> dict:
    """GET /slips/{number}'s answer: the slip with its `delivery` (None before it is delivered)."""
    return {**view_json(slips.view(session, slip), viewer), "delivery": delivery_json(deliveries.of_slip(session, slip))}


def issued_json(issued: issuing.Issued, viewer) -> dict:
    """The answer to a sale, from what it wrote (no read back on the hot path); equal to GET /slips/{number}."""
    # A slip just issued has no delivery yet (one issued at the door is answered by slip_with_delivery).
    return {**slip_json(issued.slip, issued.slip_lines, issued.supplier, {}, viewer), "delivery": None}


def found_json(found: issuing.Found, viewer) -> dict:
    r, h = found.registration, found.household
    return {
        "registration_id": r.id, "status": r.status, "season_id": r.season_id,
        "household": {"id": h.id, "head_name": h.head_name, "id_number": show_id(viewer, Record.LISTING, h.id_number),
                      "phone": show_phone(viewer, Record.LISTING, h.phone), "address": h.address,
                      "category": h.category},
        "village": {"id": found.village.id, "name": found.village.name, "zone": found.village.zone},
        "town": {"id": found.town.id, "name": found.town.name},
        "coal_kg": r.coal_kg, "stoves": r.stoves, "sold_coal_kg": r.sold_coal_kg, "sold_stoves": r.sold_stoves,
        "coal_left_kg": found.coal_left_kg, "stoves_left": found.stoves_left,
        "products": [{"product": p, "unit_price_fen": price} for p, price in sorted(found.prices.items())],
    }


def _copy_or_422(copy: int | None) -> int:
    if copy is None or copy not in numbers.COPIES:
        raise Refused("联次 copy 应为1至5", field="copy")
    return copy


class SlipsApi(Controller):
    path = API
    tags = ["slips"]

    @post("/registrations/lookup", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def lookup(self, session: DbSession, user: CurrentUser, data: JSONBody[LookupIn]) -> dict:
        """The approved registration of the household with that ID number, if in the supplier's towns (POST: the ID
        number never appears in a URL). 422 on `id_number` with the reason once the season is closed."""
        return found_json(issuing.lookup(session, user=user, id_number=data.id_number), user)

    @post("/slips", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def issue(self, request: Request, session: DbSession, user: CurrentUser, data: JSONBody[SlipIn]) -> Response:
        """Issue a slip; `Idempotency-Key` makes retries safe. With `delivery: {receiver}` it is issued at the door:
        the answer carries its `delivery` too."""
        lines = [issuing.LineIn(**ln.model_dump()) for ln in data.lines]
        sale = {"clerk": user, "registration_id": data.registration_id, "id_number": data.id_number, "lines": lines}
        if data.delivery is not None:
            answer = idempotent(request, session, user, "POST /slips", data.model_dump(), lambda: (
                201, slip_with_delivery(session, deliveries.issue_at_the_door(
                    session, receiver=data.delivery.receiver, **sale), user)))
        else:
            # Fingerprinted without the absent `delivery`, as before it existed: a retry across the upgrade matches.
            answer = idempotent(request, session, user, "POST /slips", data.model_dump(exclude={"delivery"}), lambda: (
                201, issued_json(issuing.issue(session, **sale), user)))
        end_write(session)  # here, in this thread: the supplier's locks are released without waiting for the loop
        return answer

    @get("/slips/{number:str}", sync_to_thread=True, guards=[requires(*READERS)])
    def read(self, session: DbSession, user: CurrentUser, number: FromPath[str]) -> dict:
        if number.endswith((".png", ".svg")) or "/" in number:
            raise NotFound()
        return slip_with_delivery(session, slips.get_by_number(session, number), user)

    @get("/slips/{number:str}/barcode.png", sync_to_thread=True, guards=[requires(*READERS)])
    def barcode_png(self, session: DbSession, number: FromPath[str], copy: FromQuery[int | None] = None) -> Response:
        slip = slips.get_by_number(session, number)
        return Response(barcodes.barcode_png(numbers.copy_code(slip.number, _copy_or_422(copy))),
                        media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @get("/slips/{number:str}/barcode.svg", sync_to_thread=True, guards=[requires(*READERS)])
    def barcode_svg(self, session: DbSession, number: FromPath[str], copy: FromQuery[int | None] = None) -> Response:
        slip = slips.get_by_number(session, number)
        return Response(barcodes.barcode_svg(numbers.copy_code(slip.number, _copy_or_422(copy))),
                        media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"})

    @get("/slips/{number:str}/print", sync_to_thread=True, guards=[requires(*READERS)], include_in_schema=True)
    def print_page(self, session: DbSession, user: CurrentUser, number: FromPath[str], paper: FromQuery[str | None] = None,
                   layout: FromQuery[str | None] = None) -> Template:
        """HTML page with the five copies (`paper=a4` for A4, else the 241 mm continuous form; `layout=continuous`
        for one pass onto pre-printed five-part stationery)."""
        from web.pages.sales import print_template
        return print_template(session, user, number, paper, layout)

    @post("/slips/{number:str}/void", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def void(self, session: DbSession, user: CurrentUser, number: FromPath[str], data: JSONBody[VoidIn]) -> dict:
        slip = voiding.void_slip(session, user=user, number=number, reason=data.reason)
        return view_json(slips.view(session, slip), user)

    @post("/scans", sync_to_thread=True, guards=[requires(Role.TOWN, Role.DRC, Role.FINANCE)], status_code=201)
    def scan(self, session: DbSession, user: CurrentUser, data: JSONBody[ScanIn]) -> dict:
        slip, scan = scanning.record_scan(session, user=user, code=data.code)
        return {"number": slip.number, "copy": scan.copy_no, "scanned_at": scan.scanned_at.isoformat(),
                "slip": view_json(slips.view(session, slip), user)}


controllers = [SlipsApi]
