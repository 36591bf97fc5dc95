"""Suppliers and batches in the JSON API (CONTRACT.md): GET /suppliers, POST /batches (the whole test report,
CONTRACT.md "Quality"), GET /batches, and the depots (保供点): GET/POST /depots, PUT /depots/{id},
POST /depots/{id}/deactivate and /reactivate."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from subsidy.policy import quality
from subsidy.supply import batches, depots, suppliers
from subsidy.core.errors import Refused
from subsidy.models import Batch, Role, Town
from web.api import API, Body, IsoDate, Measured, RowId
from web.deps import CurrentUser, DbSession
from web.lists import ListArgs
from web.guards import requires


class SupplierOut(BaseModel):
    id: int
    code: str
    name: str
    credit_code: str
    status: str


class ReportIn(Body):
    """A test report's values, each named by its basis (Vdaf, St,d, Ad, Qnet,ar, ...): the four of the standards
    required, the rest optional (absent or null: the report does not give it). Read exactly by
    subsidy/policy/quality.py INDICATORS: no sign, at most the lab's decimals, within the physical range; 422 naming
    the field otherwise."""

    volatile_pct: Measured = Field(description="volatile matter Vdaf (dry ash-free), %, at most 2 decimals")
    sulfur_pct: Measured = Field(description="total sulfur St,d (dry), %, at most 2 decimals")
    ash_pct: Measured = Field(description="ash Ad (dry), %, at most 2 decimals")
    calorific_mj_kg: Measured = Field(description="net calorific value Qnet,ar (as received), MJ/kg, at most 3 "
                                                  "decimals, at most 40")
    moisture_pct: Measured | None = Field(default=None, description="total moisture Mt, %, at most 2 decimals")
    mercury_ug_g: Measured | None = Field(default=None, description="mercury Hg,d (dry), μg/g, at most 3 decimals, "
                                                                    "at most 50")
    arsenic_ug_g: Measured | None = Field(default=None, description="arsenic As,d (dry), μg/g, whole, at most 2000")
    phosphorus_pct: Measured | None = Field(default=None, description="phosphorus P,d (dry), %, at most 3 decimals")
    chlorine_pct: Measured | None = Field(default=None, description="chlorine Cl,d (dry), %, at most 3 decimals")
    fluorine_ug_g: Measured | None = Field(default=None, description="fluorine F,d (dry), μg/g, whole, at most 5000")
    strength_n: Measured | None = Field(default=None, description="briquettes: cold compressive strength, N per "
                                                                  "briquette, whole")
    drop_pct: Measured | None = Field(default=None, description="briquettes: drop strength, %, at most 2 decimals")

    def report_values(self) -> dict:
        return {i.key: getattr(self, i.key) for i in quality.INDICATORS}


class BatchIn(ReportIn):
    service_names = {"origin": "source"}  # subsidy/supply/batches.py's name of the coal's origin

    product: str = Field(max_length=16)
    quantity_kg: int
    source: str = Field(default="", max_length=100, description="origin of the coal (产地/来源)")
    producer: str = Field(default="", max_length=100)
    arrival_date: IsoDate | None = None
    vehicle: str = Field(default="", max_length=20)
    report_no: str = Field(max_length=64)
    lab: str = Field(max_length=100)
    report_date: IsoDate | None = Field(default=None, description="the date on the test report (报告日期): not in "
                                                                  "the future, not before `arrival_date` (today "
                                                                  "when absent)")
    depot_id: RowId | None = Field(default=None, description="the supplier's depot (保供点) it was taken in at "
                                                              "(GET /depots; an active one)")


class ReportOut(BaseModel):
    volatile_pct: float
    sulfur_pct: float
    ash_pct: float
    calorific_mj_kg: float
    moisture_pct: float | None = None
    mercury_ug_g: float | None = None
    arsenic_ug_g: float | None = None
    phosphorus_pct: float | None = None
    chlorine_pct: float | None = None
    fluorine_ug_g: float | None = None
    strength_n: float | None = None
    drop_pct: float | None = None
    passed: bool
    failed_reasons: list[str]


def report_out(row) -> dict:
    """A batch's or a spot check's values in the API's units (None: not reported), its verdict and reasons."""
    values = {}
    for i in quality.INDICATORS:
        value = getattr(row, i.column)
        values[i.key] = None if value is None else (value / 10**i.places if i.places else value)
    reasons = [r for r in (row.failed_reasons or "").split("；") if r]
    return {**values, "passed": bool(row.passed), "failed_reasons": reasons}


class BatchOut(ReportOut):
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
    report_date: date | None = Field(default=None, description="the date on the test report; null when not given")
    frozen: bool = Field(description="a failed spot check stopped its sales; the stock left is frozen")
    depot_id: int | None = None


class DepotOut(BaseModel):
    id: int
    supplier_id: int
    name: str
    address: str
    town_id: int
    town: str
    active: bool = Field(description="false: deactivated, offered for no new batch (old batches keep naming it)")


class DepotIn(BaseModel):
    name: str = Field(max_length=100)
    address: str = Field(max_length=200)
    town_id: RowId = Field(description="the town (街道/镇) the depot is in")


class NewDepotIn(DepotIn):
    supplier_id: RowId | None = Field(default=None, description="the bureau names the supplier; a supplier adds "
                                                                "its own (the field is ignored)")


def depot_out(session, depot) -> DepotOut:
    return DepotOut(id=depot.id, supplier_id=depot.supplier_id, name=depot.name, address=depot.address,
                    town_id=depot.town_id, town=session.get(Town, depot.town_id).name, active=depot.active)


def batch_out(b: Batch) -> BatchOut:
    return BatchOut(id=b.id, supplier_id=b.supplier_id, season_id=b.season_id, product=b.product,
                    quantity_kg=b.quantity_kg, sold_kg=b.sold_kg, source=b.origin, producer=b.producer,
                    arrival_date=b.arrival_date, vehicle=b.vehicle, report_no=b.report_no, lab=b.lab,
                    report_date=b.report_date, frozen=b.frozen_at is not None, depot_id=b.depot_id, **report_out(b))


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
                                  report_no=data.report_no, lab=data.lab, report_date=data.report_date,
                                  depot_id=data.depot_id,
                                  **data.report_values())
        return batch_out(batches.record(session, user, user.supplier_id, form))

    @get("/depots", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE)])
    def list_depots(self, session: DbSession, user: CurrentUser,
                    supplier_id: FromQuery[int | None] = None) -> list[DepotOut]:
        """The depots (保供点) of a supplier (a supplier its own; the others name `supplier_id`), by name."""
        supplier_id = user.supplier_id if user.role == Role.SUPPLIER else supplier_id
        return [DepotOut(id=r.depot.id, supplier_id=r.depot.supplier_id, name=r.depot.name,
                         address=r.depot.address, town_id=r.depot.town_id, town=r.town, active=r.depot.active)
                for r in depots.of_supplier(session, supplier_id)] if supplier_id else []

    @post("/depots", sync_to_thread=True, status_code=201, guards=[requires(Role.SUPPLIER, Role.DRC)])
    def add_depot(self, session: DbSession, user: CurrentUser, data: JSONBody[NewDepotIn]) -> DepotOut:
        """Add a depot: a supplier its own, the bureau any supplier's (`supplier_id`). 422 naming each wrong field,
        409 when the supplier already has a depot of that name, 404 for a supplier out of scope."""
        supplier_id = user.supplier_id if user.role == Role.SUPPLIER else data.supplier_id
        if supplier_id is None:
            raise Refused("请指定配送企业", field="supplier_id")
        depot = depots.create(session, user, supplier_id, depots.DepotInput(name=data.name, address=data.address,
                                                                            town_id=data.town_id))
        return depot_out(session, depot)

    @put("/depots/{depot_id:int}", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC)])
    def edit_depot(self, session: DbSession, user: CurrentUser, depot_id: FromPath[int],
                   data: JSONBody[DepotIn]) -> DepotOut:
        """Change a depot's name, address and town; as POST /depots otherwise."""
        depot = depots.update(session, user, depot_id, depots.DepotInput(name=data.name, address=data.address,
                                                                         town_id=data.town_id))
        return depot_out(session, depot)

    @post("/depots/{depot_id:int}/deactivate", sync_to_thread=True, status_code=200,
          guards=[requires(Role.SUPPLIER, Role.DRC)])
    def deactivate_depot(self, session: DbSession, user: CurrentUser, depot_id: FromPath[int]) -> DepotOut:
        """Deactivate a depot: no new batch may name it (422), the batches that do keep it. 422 when it already is."""
        return depot_out(session, depots.set_active(session, user, depot_id, False))

    @post("/depots/{depot_id:int}/reactivate", sync_to_thread=True, status_code=200,
          guards=[requires(Role.SUPPLIER, Role.DRC)])
    def reactivate_depot(self, session: DbSession, user: CurrentUser, depot_id: FromPath[int]) -> DepotOut:
        """Offer a deactivated depot for new batches again. 422 when it is active."""
        return depot_out(session, depots.set_active(session, user, depot_id, True))

    @get("/batches", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE)])
    def list_batches(self, session: DbSession, product: FromQuery[str | None] = None,
                     passed: FromQuery[bool | None] = None, page: FromQuery[int | None] = None,
                     per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None) -> Response:
        """Batches in scope (a supplier its own), newest first, 50 a page (a list, as before); the next page's cursor,
        if any, is the `X-Next-Cursor` header, to pass back as `after=`. `page=` beyond 1,000 is 422."""
        pg = batches.listing(session, product=product or None, passed=passed,
                             **ListArgs.api(page=page, per_page=per_page, after=after).fetch | {"count": False})
        return Response([batch_out(r.batch).model_dump(mode="json") for r in pg.items],
                        headers={"X-Next-Cursor": pg.next} if pg.next else {})

    @get("/batches/{batch_id:int}", sync_to_thread=True,
         guards=[requires(Role.SUPPLIER, Role.DRC, Role.AUDITOR, Role.FINANCE)])
    def get_batch(self, session: DbSession, batch_id: FromPath[int]) -> BatchOut:
        return batch_out(batches.get(session, batch_id))


controllers = [SuppliersApi]
