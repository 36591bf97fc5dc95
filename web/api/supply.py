"""Suppliers and batches in the JSON API (CONTRACT.md): GET /suppliers, POST /batches, GET /batches."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from subsidy.supply import batches, suppliers
from subsidy.models import Batch, Role
from web.api import API, Body, IsoDate, Measured
from web.deps import CurrentUser, DbSession
from web.lists import ListArgs
from web.guards import requires


class SupplierOut(BaseModel):
    id: int
    code: str
    name: str
    credit_code: str
    status: str


class BatchIn(Body):
    service_names = {"origin": "source"}  # subsidy/supply/batches.py's name of the coal's origin

    product: str = Field(max_length=16)
    quantity_kg: int
    source: str = Field(default="", max_length=100, description="origin of the coal (产地/来源)")
    producer: str = Field(default="", max_length=100)
    arrival_date: IsoDate | None = None
    vehicle: str = Field(default="", max_length=20)
    report_no: str = Field(max_length=64)
    lab: str = Field(max_length=100)
    volatile_pct: Measured = Field(description="volatile matter, %, at most 2 decimals")
    sulfur_pct: Measured = Field(description="total sulfur, %, at most 2 decimals")
    ash_pct: Measured = Field(description="ash, %, at most 2 decimals")
    calorific_mj_kg: Measured = Field(description="net calorific value, MJ/kg, at most 3 decimals")


class BatchOut(BaseModel):
    id: int
    supplier_id: int
    season_id: int
    product: str
    quantity_kg: int
    sold_kg: int
    source: str
    producer: str
    arrival_date: date | None
    vehicle: str
    report_no: str
    lab: str
    volatile_pct: float
    sulfur_pct: float
    ash_pct: float
    calorific_mj_kg: float
    passed: bool
    failed_reasons: list[str]


def batch_out(b: Batch) -> BatchOut:
    return BatchOut(id=b.id, supplier_id=b.supplier_id, season_id=b.season_id, product=b.product,
                    quantity_kg=b.quantity_kg, sold_kg=b.sold_kg, source=b.origin, producer=b.producer,
                    arrival_date=b.arrival_date, vehicle=b.vehicle, report_no=b.report_no, lab=b.lab,
                    volatile_pct=b.volatile_cpct / 100, sulfur_pct=b.sulfur_cpct / 100, ash_pct=b.ash_cpct / 100,
                    calorific_mj_kg=b.calorific_kj_kg / 1000, passed=b.passed, failed_reasons=batches.reasons(b))


class SuppliersApi(Controller):
    path = API
    tags = ["suppliers"]

    @get("/suppliers", sync_to_thread=True)
    def suppliers(self, session: DbSession) -> list[SupplierOut]:
        """Suppliers in the caller's scope (a supplier sees itself)."""
        return [SupplierOut(id=s.id, code=s.code, name=s.name, credit_code=s.credit_code, status=s.status)
                for s in suppliers.all_in_scope(session)]

    @post("/batches", sync_to_thread=True, status_code=201, guards=[requires(Role.SUPPLIER)])
    def record_batch(self, session: DbSession, user: CurrentUser, data: JSONBody[BatchIn]) -> BatchOut:
        """Record a coal batch with its test report values; decided at once against the active season's standard
        (`passed`, and `failed_reasons` naming each failing value). 422 when the input is invalid."""
        form = batches.BatchInput(product=data.product, quantity_kg=data.quantity_kg, producer=data.producer,
                                  origin=data.source, arrival_date=data.arrival_date, vehicle=data.vehicle,
                                  report_no=data.report_no, lab=data.lab, volatile_pct=data.volatile_pct,
                                  sulfur_pct=data.sulfur_pct, ash_pct=data.ash_pct,
                                  calorific_mj_kg=data.calorific_mj_kg)
        return batch_out(batches.record(session, user, user.supplier_id, form))

    @get("/batches", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE)])
    def list_batches(self, session: DbSession, product: FromQuery[str | None] = None,
                     passed: FromQuery[bool | None] = None, page: FromQuery[int | None] = None,
                     after: FromQuery[str | None] = None) -> Response:
        """Batches in scope (a supplier its own), newest first, 50 a page (a list, as before); the next page's cursor,
        if any, is the `X-Next-Cursor` header, to pass back as `after=`. `page=` beyond 1,000 is 422."""
        pg = batches.listing(session, product=product or None, passed=passed,
                             **ListArgs.read(page=page, after=after).fetch | {"count": False})
        return Response([batch_out(r.batch).model_dump(mode="json") for r in pg.items],
                        headers={"X-Next-Cursor": pg.next} if pg.next else {})

    @get("/batches/{batch_id:int}", sync_to_thread=True,
         guards=[requires(Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE)])
    def get_batch(self, session: DbSession, batch_id: FromPath[int]) -> BatchOut:
        return batch_out(batches.get(session, batch_id))


controllers = [SuppliersApi]
