"""The delivery API (CONTRACT.md, "Delivery and verification"): the supplier's delivery list and its spreadsheet,
and recording a slip's delivery. The town reads its villages' list here too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, FromQuery, Parameter
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from subsidy.core.errors import Refused
from subsidy.core.settings import get_settings
from subsidy.delivery import deliveries
from subsidy.models import Role
from subsidy.sales import slips
from web.api import API, MAX_INT, IsoDate, PageFields
from web.api.sales import slip_with_delivery
from web.deps import CurrentUser, DbSession
from web.guards import DELIVERY_READERS, requires
from web.lists import ListArgs
from web.forms import UPLOAD_LIMIT

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Id = Annotated[int | None, Parameter(ge=1, le=MAX_INT)]
Cursor = Annotated[str | None, Field(max_length=400)]


class DeliveryIn(BaseModel):
    delivered_on: IsoDate | None = None
    receiver: str = ""


@dataclass(frozen=True)
class DeliveryBody:
    """A delivery as sent: JSON (`DeliveryIn`), or multipart form data with the same fields and a `photo` file."""

    delivered_on: date | None
    receiver: str
    photo: tuple[str, bytes] | None = None


def _refused_json(error: ValidationError) -> ValidationException:
    """Pydantic's reasons by field, as the framework's own validation answers them (web/errors.py)."""
    return ValidationException("提交的数据有误", extra=[
        {"key": ".".join(str(part) for part in e["loc"]) or "_", "message": e["msg"]} for e in error.errors()])


async def delivery_body(request: Request) -> DeliveryBody:
    """The body of POST /slips/{number}/delivery, read on the event loop before the handler's thread runs: JSON as
    before, or multipart/form-data for the signed copy's scan. The photo is read up to one byte past the attachment
    limit, so that the service refuses an oversized file by its size (422, `photo`) without holding more of it; a
    body past the route's own limit is the framework's 413. Its type is the service's to check, by its content."""
    content_type, _ = request.content_type
    if content_type in (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED):
        form = await request.form()
        upload = form.get("photo")
        photo = None
        if isinstance(upload, UploadFile):
            if upload.filename:
                photo = (upload.filename, await upload.read(get_settings().attachment_max_bytes + 1))
        elif upload not in (None, ""):
            raise Refused("签收联照片或扫描件应以文件上传（multipart/form-data 的文件字段）", field="photo")
        receiver = form.get("receiver", "")
        if not isinstance(receiver, str):
            raise Refused("签收人姓名应为文本", field="receiver")
        return DeliveryBody(_form_date(form.get("delivered_on")), receiver, photo)
    try:
        parsed = DeliveryIn.model_validate_json(await request.body() or b"{}", strict=True)
    except ValidationError as error:
        raise _refused_json(error) from None
    return DeliveryBody(parsed.delivered_on, parsed.receiver)


def _form_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            return IsoDateAdapter.validate_python(value.strip())
        except ValidationError:
            pass
    raise Refused("送达日期格式应为 年-月-日，例如 2021-11-05", field="delivered_on")


IsoDateAdapter = TypeAdapter(IsoDate)
_DELIVERY_FIELDS = {"delivered_on": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE,
                                           description="送达日期 YYYY-MM-DD，不早于开具日期、不晚于今天"),
                    "receiver": Schema(type=OpenAPIType.STRING, max_length=deliveries.RECEIVER_MAX,
                                       description="签收人姓名：户主或家庭其他成年人")}


class DeliveryOperation(Operation):
    """The route's body as OpenAPI gives it: JSON, or multipart with the photo (the handler reads it through the
    `delivery_body` dependency, which the schema generator cannot see)."""

    def __init__(self, *args, **kwargs) -> None:  # Operation's dataclass __init__ calls no __post_init__
        super().__init__(*args, **kwargs)
        photo = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY,
                       description="签收联照片或扫描件（PNG、JPEG 或 PDF，按内容判断；大小有上限）")
        self.request_body = RequestBody(required=True, content={
            "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT, properties=_DELIVERY_FIELDS)),
            "multipart/form-data": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.OBJECT, properties={**_DELIVERY_FIELDS, "photo": photo}))})


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
              per_page: FromQuery[str | None] = None, after: Cursor = None, before: Cursor = None) -> dict:
        """The delivery list by village, `per_page` 20, 50 (the default) or 100 a page; `pending=1`: not yet
        delivered. `total` is counted up to 1,000 (`total_capped`: there are more). `next`/`prev` are cursors to pass
        back as `after=`/`before=` (any depth at the same cost); `page=` up to 1,000."""
        pg = deliveries.delivery_list(session, user, town_id=town_id, village_id=village_id, pending=bool(pending),
                                      **ListArgs.api(page=page, per_page=per_page, after=after,
                                                     before=before).fetch)
        return {"items": [_row_json(r) for r in pg.items], **PageFields.of(pg)}

    @get("/deliveries.xlsx", sync_to_thread=True, guards=[requires(*DELIVERY_READERS)])
    def export(self, session: DbSession, user: CurrentUser, town_id: Id = None, village_id: Id = None,
               pending: Annotated[int, Field(ge=0, le=1)] = 0) -> Response:
        body = deliveries.export_xlsx(session, user, town_id=town_id, village_id=village_id, pending=bool(pending))
        return Response(body, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="deliveries.xlsx"'})

    @post("/slips/{number:str}/delivery", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200,
          dependencies={"body_in": Provide(delivery_body)}, request_max_body_size=UPLOAD_LIMIT,
          operation_class=DeliveryOperation)
    def record(self, session: DbSession, user: CurrentUser, number: FromPath[str], body_in: NamedDependency[DeliveryBody]
               ) -> dict:
        """`{delivered_on, receiver}` as JSON, or the same as multipart/form-data with the signed copy's scan in
        `photo`. 200 with the slip and its `delivery`; 409 when recorded already or the slip is voided; 422 for a
        date before the issue date or in the future, an empty name, or a photo that is not a PNG, JPEG or PDF by its
        content or is too large."""
        deliveries.record_delivery(session, user=user, number=number, delivered_on=body_in.delivered_on,
                                   receiver=body_in.receiver, photo=body_in.photo)
        return slip_with_delivery(session, slips.get_by_number(session, number), user)


controllers = [DeliveriesApi]
