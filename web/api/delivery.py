"""The delivery API (CONTRACT.md, "Delivery and verification"): the supplier's delivery list and its spreadsheet,
and recording a slip's delivery. The town reads its villages' list here too."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, Field

from subsidy.delivery import deliveries
from subsidy.models import Role
from subsidy.sales import slips
from web.api import API, MAX_INT, IsoDate, PageFields
from web.api.sales import delivery_json, view_json
from web.deps import CurrentUser, DbSession
from web.guards import DELIVERY_READERS, requires
from web.lists import ListArgs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Id = Annotated[int | None, Field(ge=1, le=MAX_INT)]
Cursor = Annotated[str | None, Field(max_length=400)]


class DeliveryIn(BaseModel):
    delivered_on: IsoDate | None = None
    receiver: str = ""


def slip_with_delivery(session, slip, viewer) -> dict:
    return {**view_json(slips.view(session, slip), viewer), "delivery": delivery_json(deliveries.of_slip(session, slip))}


def _row_json(row: deliveries.Row) -> dict:
    return {"registration_id": row.registration_id,
            "household": {"head_name": row.head_name, "id_number": row.id_number, "phone": row.phone,
                          "address": row.address},
            "village": {"id": row.village_id, "name": row.village}, "town": {"id": row.town_id, "name": row.town},
            "coal_left_kg": row.coal_left_kg, "stoves_left": row.stoves_left,
            "slips": [{"number": s.number, "issued_on": s.issued_on.isoformat(), "coal_kg": s.coal_kg,
                       "stoves": s.stoves, "delivered_on": s.delivered_on.isoformat() if s.delivered_on else None,
                       "days_since_issue": s.days} for s in row.slips]}


class DeliveriesApi(Controller):
    path = API
    tags = ["delivery"]

    @get("/deliveries", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def index(self, session: DbSession, user: CurrentUser, town_id: Id = None, village_id: Id = None,
              pending: Annotated[int, Field(ge=0, le=1)] = 0, page: Annotated[int, Field(ge=1, le=MAX_INT)] = 1,
              per_page: Annotated[int, Field(ge=1, le=100)] = 50, after: Cursor = None, before: Cursor = None
              ) -> dict:
        """The delivery list by village, 50 a page (`per_page`: 20, 50 or 100); `pending=1`: not yet delivered. `total` is counted up to
        1,000 (`total_capped`: there are more). `next`/`prev` are cursors to pass back as `after=`/`before=` (any
        depth at the same cost); `page=` up to 1,000."""
        pg = deliveries.delivery_list(session, user, town_id=town_id, village_id=village_id, pending=bool(pending),
                                      **ListArgs.read(page=page, per_page=per_page, after=after,
                                                     before=before).fetch)
        return {"items": [_row_json(r) for r in pg.items], **PageFields.of(pg)}

    @get("/deliveries.xlsx", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def export(self, session: DbSession, user: CurrentUser, town_id: Id = None, village_id: Id = None,
               pending: Annotated[int, Field(ge=0, le=1)] = 0) -> Response:
        body = deliveries.export_xlsx(session, user, town_id=town_id, village_id=village_id, pending=bool(pending))
        return Response(body, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="deliveries.xlsx"'})

    @post("/slips/{number:str}/delivery", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def record(self, session: DbSession, user: CurrentUser, number: FromPath[str], data: JSONBody[DeliveryIn]
               ) -> dict:
        """200 with the slip and its `delivery`; 409 when recorded already or the slip is voided; 422 for a date
        before the issue date or in the future."""
        deliveries.record_delivery(session, user=user, number=number, delivered_on=data.delivered_on,
                                   receiver=data.receiver)
        return slip_with_delivery(session, slips.get_by_number(session, number), user)


controllers = [DeliveriesApi]
