"""Slips API (CONTRACT.md): issue, read, barcodes, print, void, scan, and the supplier's lookup by ID number."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from subsidy.rules import barcodes, numbers
from subsidy.core import idempotency
from subsidy.core.db import reading, run_in_transaction
from subsidy.core.errors import NotFound, SubsidyError
from subsidy.models import Role
from web.api import API, MAX_INT, RowId
from web.deps import CurrentUser, DbSession
from web.guards import requires
from subsidy.sales import issuing, scanning, slips, voiding

READERS = (Role.SUPPLIER, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)


class LineIn(BaseModel):
    product: str
    quantity: int = Field(le=MAX_INT)  # kg or sets; zero and negatives are the rules' to refuse (issuing.plan)
    batch_id: RowId | None = None
    serial: str | None = None
    unit_price_fen: int | None = None


class SlipIn(BaseModel):
    registration_id: RowId
    lines: list[LineIn] = Field(min_length=1, max_length=20)


class VoidIn(BaseModel):
    reason: str = ""


class ScanIn(BaseModel):
    code: str


class LookupIn(BaseModel):
    id_number: str


def _copy_or_422(copy: int | None) -> int:
    if copy is None or copy not in numbers.COPIES:
        raise SubsidyError("联次 copy 应为1至5", field="copy")
    return copy


class SlipsApi(Controller):
    path = API
    tags = ["slips"]

    @post("/registrations/lookup", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def lookup(self, session: DbSession, user: CurrentUser, data: JSONBody[LookupIn]) -> dict:
        """The approved registration of the household with that ID number, if in the supplier's towns (POST: the ID
        number never appears in a URL)."""
        with reading(session):  # found or not, the lookup only read
            found = issuing.lookup(session, user=user, id_number=data.id_number)
        return found.as_json()

    @post("/slips", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def issue(self, request: Request, session: DbSession, user: CurrentUser, data: JSONBody[SlipIn]) -> Response:
        """Issue a slip; `Idempotency-Key` makes retries safe."""
        lines = [issuing.LineIn(**ln.model_dump()) for ln in data.lines]

        def work():
            return 201, issuing.issue(session, clerk=user, registration_id=data.registration_id,
                                      lines=lines).as_json()

        answer = idempotency.execute(session, user_id=user.id, key=request.headers.get("idempotency-key"),
                                     method_path="POST /slips", payload=data.model_dump(), work=work)
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return Response(answer.body, status_code=answer.status_code, headers=headers)

    @get("/slips/{number:str}", sync_to_thread=True, guards=[requires(*READERS)])
    def read(self, session: DbSession, number: FromPath[str]) -> dict:
        if number.endswith((".png", ".svg")) or "/" in number:
            raise NotFound()
        return slips.as_json(slips.view(session, slips.get_by_number(session, number)))

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
    def print_page(self, session: DbSession, user: CurrentUser, number: FromPath[str], paper: FromQuery[str | None] = None
                   ) -> Template:
        """HTML page with the five copies (`paper=a4` for A4, else the 241 mm continuous form)."""
        from web.pages.sales import print_template
        return print_template(session, user, number, paper)

    @post("/slips/{number:str}/void", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def void(self, session: DbSession, user: CurrentUser, number: FromPath[str], data: JSONBody[VoidIn]) -> dict:
        def work():
            slip = voiding.void_slip(session, user=user, number=number, reason=data.reason)
            return slips.as_json(slips.view(session, slip))

        return run_in_transaction(session, work)

    @post("/scans", sync_to_thread=True, guards=[requires(Role.TOWN, Role.DRC, Role.FINANCE)], status_code=201)
    def scan(self, session: DbSession, user: CurrentUser, data: JSONBody[ScanIn]) -> dict:
        def work():
            slip, scan = scanning.record_scan(session, user=user, code=data.code)
            return {"number": slip.number, "copy": scan.copy_no, "scanned_at": scan.scanned_at.isoformat(),
                    "slip": slips.as_json(slips.view(session, slip))}

        return run_in_transaction(session, work)


controllers = [SlipsApi]
