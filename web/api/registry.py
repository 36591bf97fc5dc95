"""Households and registrations in the JSON API (CONTRACT.md). The village writes, the town decides, the district
roles read. ID numbers and phones are whole for the village and the town, masked for everybody else."""

from __future__ import annotations

from datetime import date, datetime

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field

from subsidy.registry import spreadsheet, households
from subsidy.models import Household, Registration, Role
from subsidy.core.scope import Record, show_id, show_phone
from web.api import API, MAX_INT, PageFields, RowId
from web.deps import CurrentUser, DbSession
from web.lists import ListArgs
from web.guards import REGISTRY_READERS, requires

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class HouseholdIn(BaseModel):
    village_id: RowId
    head_name: str
    id_number: str
    phone: str
    address: str
    category: str = "ordinary"


class HouseholdOut(BaseModel):
    id: int
    village_id: int
    head_name: str
    id_number: str
    phone: str
    address: str
    category: str
    created_at: datetime
    updated_at: datetime


class RegistrationOut(BaseModel):
    id: int
    household_id: int
    season_id: int
    village_id: int
    coal_kg: int
    stoves: int
    status: str
    notice_id: int | None
    reject_reason: str
    sold_coal_kg: int
    sold_stoves: int
    decided_at: datetime | None


class HouseholdDetail(HouseholdOut):
    registrations: list[RegistrationOut]


class HouseholdPage(PageFields):
    items: list[HouseholdOut]


class SearchIn(BaseModel):
    q: str
    village_id: RowId | None = None
    page: int = Field(default=1, ge=1, le=MAX_INT)
    per_page: int | None = None  # 20, 50 (the default) or 100; anything else 422
    after: str | None = Field(default=None, max_length=400)  # the `next` cursor of the page before
    before: str | None = Field(default=None, max_length=400)


class RegistrationIn(BaseModel):
    coal_kg: int = Field(ge=0)
    stoves: int = Field(ge=0)


class RejectIn(BaseModel):
    reason: str


class NoticeIn(BaseModel):
    objection_contact: str = ""


class NoticeOut(BaseModel):
    id: int
    village_id: int
    season_id: int
    published_on: date
    ends_on: date
    objection_contact: str
    registrations: int


def household_out(user, h: Household) -> HouseholdOut:
    return HouseholdOut(id=h.id, village_id=h.village_id, head_name=h.head_name,
                        id_number=show_id(user, Record.HOUSEHOLD, h.id_number),
                        phone=show_phone(user, Record.HOUSEHOLD, h.phone),
                        address=h.address, category=h.category, created_at=h.created_at, updated_at=h.updated_at)


def registration_out(r: Registration) -> RegistrationOut:
    return RegistrationOut(id=r.id, household_id=r.household_id, season_id=r.season_id, village_id=r.village_id,
                           coal_kg=r.coal_kg, stoves=r.stoves, status=r.status, notice_id=r.notice_id,
                           reject_reason=r.reject_reason, sold_coal_kg=r.sold_coal_kg, sold_stoves=r.sold_stoves,
                           decided_at=r.decided_at)


def _page(user, result) -> HouseholdPage:
    return HouseholdPage(items=[household_out(user, h) for h in result.items], **PageFields.of(result))


class HouseholdsApi(Controller):
    path = API
    tags = ["households"]

    @post("/households", sync_to_thread=True, guards=[requires(Role.VILLAGE)], status_code=201)
    def create(self, session: DbSession, user: CurrentUser, data: JSONBody[HouseholdIn]) -> HouseholdOut:
        """Register a household; 409 with `existing_id` when its ID number is already registered in the district."""
        made = households.register_household(session, user, data.village_id, households.HouseholdInput(
            data.head_name, data.id_number, data.phone, data.address, data.category))
        return household_out(user, made)

    @get("/households", sync_to_thread=True, guards=[requires(*REGISTRY_READERS)])
    def index(self, session: DbSession, user: CurrentUser, village_id: FromQuery[int | None] = None,
             page: FromQuery[int] = 1, per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
             before: FromQuery[str | None] = None) -> HouseholdPage:
        """Households in the caller's scope, `per_page` 20, 50 (the default) or 100 a page; `next`/`prev` cursors as
        `after=`/`before=`."""
        return _page(user, households.list_households(session, village_id=village_id, **ListArgs.api(
            page=page, per_page=per_page, after=after, before=before).fetch))

    @post("/households/search", sync_to_thread=True, guards=[requires(*REGISTRY_READERS)], status_code=200)
    def search(self, session: DbSession, user: CurrentUser, data: JSONBody[SearchIn]) -> HouseholdPage:
        """Households in scope whose name, ID number or phone matches `q` (POST: never an ID number in a URL). A
        search by name counts up to 1,000 (`total_capped`: there are more), the others up to 10,000."""
        return _page(user, households.list_households(session, village_id=data.village_id, q=data.q, **ListArgs.api(
            page=data.page, per_page=data.per_page, after=data.after, before=data.before).fetch))

    @get("/households/{household_id:int}", sync_to_thread=True, guards=[requires(*REGISTRY_READERS)])
    def detail(self, session: DbSession, user: CurrentUser, household_id: FromPath[int]) -> HouseholdDetail:
        found, registrations, _ = households.history(session, household_id)
        return HouseholdDetail(**household_out(user, found).model_dump(),
                               registrations=[registration_out(r) for r in registrations])

    @post("/households/{household_id:int}/registrations", sync_to_thread=True, guards=[requires(Role.VILLAGE)],
          status_code=201)
    def register(self, session: DbSession, user: CurrentUser, household_id: FromPath[int],
                 data: JSONBody[RegistrationIn]) -> RegistrationOut:
        """The household's registration for the active season, `status: "registered"`."""
        made = households.register_purchase(session, user, household_id, data.coal_kg, data.stoves)
        return registration_out(made)

    @post("/villages/{village_id:int}/notice", sync_to_thread=True, guards=[requires(Role.VILLAGE)], status_code=201)
    def publish(self, session: DbSession, user: CurrentUser, village_id: FromPath[int],
                data: JSONBody[NoticeIn | None] = None) -> NoticeOut:
        """Publish the notice of all `registered` registrations of the village; they become `noticed`."""
        notice, count = households.publish_notice(
            session, user, village_id, data.objection_contact if data else "")
        return NoticeOut(id=notice.id, village_id=notice.village_id, season_id=notice.season_id,
                         published_on=notice.published_on, ends_on=notice.ends_on,
                         objection_contact=notice.objection_contact, registrations=count)

    @post("/registrations/{registration_id:int}/approve", sync_to_thread=True, guards=[requires(Role.TOWN)],
          status_code=200)
    def approve(self, session: DbSession, user: CurrentUser, registration_id: FromPath[int]) -> RegistrationOut:
        return registration_out(households.approve(session, user, registration_id))

    @post("/registrations/{registration_id:int}/reject", sync_to_thread=True, guards=[requires(Role.TOWN)],
          status_code=200)
    def reject(self, session: DbSession, user: CurrentUser, registration_id: FromPath[int],
               data: JSONBody[RejectIn]) -> RegistrationOut:
        return registration_out(households.reject(session, user, registration_id, data.reason))

    @get("/villages/{village_id:int}/registrations.xlsx", sync_to_thread=True, guards=[requires(*REGISTRY_READERS)])
    def export(self, session: DbSession, user: CurrentUser, village_id: FromPath[int]) -> Response[bytes]:
        """The village's households and registrations in the import template (ID numbers as text)."""
        name, data = spreadsheet.export_village(session, user, village_id)
        return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


controllers = [HouseholdsApi]
