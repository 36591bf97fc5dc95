"""Pages of the household registry and the season's registrations: the village registers, edits, searches,
registers purchases, publishes the notice, imports and exports; the town approves or rejects; the district roles
read lists and counts. Searches by name, ID number or phone are POSTed (no ID number or phone in a URL)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.registry import spreadsheet, households
from subsidy.policy import seasons
from subsidy.core import audit_text, paging, people
from subsidy.core.errors import Conflict, Refused
from subsidy.models import REGISTRATION_STATUS_LABELS, Role, Season, Village
from subsidy.rules.money import column_totals
from sqlalchemy import select
from web import lists
from web.deps import CurrentUser, DbSession, ReadSession, list_season_id
from web.lists import ListArgs
from web.forms import FORM, MULTIPART, REFUSED_OR_DUPLICATE, as_int, discard, is_number, refused
from web.guards import REGISTRY_READERS, requires

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VILLAGE = requires(Role.VILLAGE)
TOWN = requires(Role.TOWN)
READERS = requires(*REGISTRY_READERS)
DONE = {"approved": "已审核通过。", "rejected": "已驳回。"}


def _xlsx(name: str, data: bytes) -> Response[bytes]:
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _villages(session) -> list[Village]:
    return list(session.execute(select(Village).order_by(Village.town_id, Village.id)).scalars())


def _household_input(form: dict) -> households.HouseholdInput:
    return households.HouseholdInput(*(str(form.get(k, "")) for k in
                                       ("head_name", "id_number", "phone", "address", "category")))


def _quantities(form: dict) -> tuple[int, int]:
    from subsidy.rules.measures import parse_tons_to_kg

    raw = str(form.get("coal_tons", "") or "").strip()
    try:
        coal_kg = parse_tons_to_kg(raw) if raw else 0
    except ValueError as error:
        raise Refused(str(error), field="coal_tons") from None
    return coal_kg, as_int(form, "stoves", "炉具台数", required=False) or 0


class HouseholdPages(Controller):
    path = "/households"
    include_in_schema = False

    def _list(self, session, user, *, village_id=None, q="", args: ListArgs | None = None, sort=None,
              status_code=200, at=None, **extra) -> Template:
        args = args or ListArgs.read()
        result = households.list_households(session, village_id=village_id, q=q, sort=sort, at=at, **args.fetch)
        return Template("households/list.html", status_code=status_code, context={
            "me": user, "result": result, "villages": _villages(session), "village_id": village_id, "q": q,
            "params": lists.params({"village_id": village_id, "q": q},
                                   paging.sort_key(sort, households.HOUSEHOLD_SORTS, "id"), args),
            "village_of": households.villages_by_id(session, {h.village_id for h in result.items}),
            **extra})

    @get("/", sync_to_thread=True, guards=[READERS])
    def index(self, session: DbSession, user: CurrentUser, village_id: FromQuery[int | None] = None,
              page: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
              per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None,
              from_name: FromQuery[str | None] = None) -> Template:
        """`from_name`: jump to the households whose names begin there, in the order by name."""
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        name = (from_name or "").strip()[:40] or None
        if name and paging.sort_key(sort, households.HOUSEHOLD_SORTS, "id").lstrip("-") != "name":
            sort = "name"  # a name is found in the order by name
        return self._list(session, user, village_id=village_id, args=args, sort=sort, at=name,
                          from_name=name or "")

    @post("/search", sync_to_thread=True, guards=[READERS], status_code=200)
    def search(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template:
        """The search by name, ID number or phone, POSTed (never an ID number in a URL); its pager posts too."""
        village_id = int(data["village_id"]) if is_number(str(data.get("village_id", ""))) else None
        return self._list(session, user, village_id=village_id, q=str(data.get("q", "")),
                          args=ListArgs.of_form(data), sort=data.get("sort"))

    @get("/new", sync_to_thread=True, guards=[VILLAGE])
    def new(self, session: DbSession, user: CurrentUser) -> Template:
        return Template("households/form.html", context={"form": {"category": "ordinary"}, "household": None})

    @post("/new", sync_to_thread=True, guards=[VILLAGE])
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            made = households.register_household(session, user, user.village_id, _household_input(data))
        except Refused as error:
            discard(session)
            return refused("households/form.html", error, data, household=None)
        except Conflict as duplicate:  # the ID number is registered already: the form links to that household
            discard(session)
            return refused("households/form.html", duplicate, data, household=None, existing_id=duplicate.existing_id)
        return Redirect(f"/households/{made.id}?saved=1", status_code=303)

    @get("/{household_id:int}", sync_to_thread=True, guards=[READERS])
    def detail(self, session: DbSession, user: CurrentUser, household_id: FromPath[int],
               saved: FromQuery[int | None] = None) -> Template:
        return self._detail(session, user, household_id, notice="已保存。" if saved else "")

    def _detail(self, session, user, household_id, *, status_code=200, **extra) -> Template:
        found, registrations, entries = households.history(session, household_id)
        season = seasons.active_season_or_none(session)
        current = next((r for r in registrations if season and r.season_id == season.id), None)
        deciders = people.people(session, [r.decided_by for r in registrations])
        return Template("households/detail.html", status_code=status_code, context={
            "me": user, "household": found, "registrations": registrations, "season": season,
            "household_seasons": households.seasons_of(session, found.id, registrations),
            "entries": audit_text.describe(session, entries), "deciders": deciders,
            "current": current, "village": session.get(Village, found.village_id),
            "season_closed": seasons.CLOSED,  # a closed season offers no registration form, its reason instead
            "form": extra.pop("form", {}), **extra})

    @get("/{household_id:int}/edit", sync_to_thread=True, guards=[VILLAGE])
    def edit_page(self, session: DbSession, user: CurrentUser, household_id: FromPath[int]) -> Template:
        found = households.household(session, household_id)
        form = {k: getattr(found, k) for k in ("head_name", "id_number", "phone", "address", "category")}
        return Template("households/form.html", context={"form": form, "household": found})

    @post("/{household_id:int}/edit", sync_to_thread=True, guards=[VILLAGE])
    def edit(self, session: DbSession, user: CurrentUser, household_id: FromPath[int],
             data: Annotated[dict, FORM]) -> Template | Redirect:
        found = households.household(session, household_id)
        try:
            households.edit_household(session, user, household_id, _household_input(data))
        except Refused as error:
            discard(session)
            return refused("households/form.html", error, data, household=found)
        except Conflict as duplicate:
            discard(session)
            return refused("households/form.html", duplicate, data, household=found, existing_id=duplicate.existing_id)
        return Redirect(f"/households/{household_id}?saved=1", status_code=303)

    @post("/{household_id:int}/registrations", sync_to_thread=True, guards=[VILLAGE])
    def register(self, session: DbSession, user: CurrentUser, household_id: FromPath[int],
                 data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            coal_kg, stoves = _quantities(data)
            households.register_purchase(session, user, household_id, coal_kg, stoves)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return self._detail(session, user, household_id, status_code=422, error=error, errors=error.errors,
                                form=data)
        return Redirect(f"/households/{household_id}?saved=1", status_code=303)

    @post("/registrations/{registration_id:int}/change", sync_to_thread=True, guards=[VILLAGE])
    def change(self, session: DbSession, user: CurrentUser, registration_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        found = households.registration(session, registration_id)
        try:
            coal_kg, stoves = _quantities(data)
            households.change_purchase(session, user, registration_id, coal_kg, stoves)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return self._detail(session, user, found.household_id, status_code=422, error=error,
                                errors=error.errors, form=data)
        return Redirect(f"/households/{found.household_id}?saved=1", status_code=303)

    # --- spreadsheets ---

    @get("/template.xlsx", sync_to_thread=True, guards=[READERS])
    def template(self, session: DbSession, user: CurrentUser) -> Response[bytes]:
        return _xlsx("registrations-template.xlsx", spreadsheet.template_bytes(session))

    @get("/export.xlsx", sync_to_thread=True, guards=[READERS])
    def export(self, session: DbSession, user: CurrentUser, village_id: FromQuery[int | None] = None) -> Response[bytes]:
        village_id = village_id or user.village_id
        if not village_id:
            raise Refused("请选择要导出的村(社区)", field="village_id")
        return _xlsx(*spreadsheet.export_village(session, user, village_id))

    def _import_page(self, session, user, *, status_code=200, **extra) -> Template:
        pending = [(upload, spreadsheet.ImportResult.from_json(upload.preview), spreadsheet.import_progress(upload))
                   for upload in spreadsheet.pending_uploads(session, user)]
        return Template("households/import.html", status_code=status_code, context={
            "header": spreadsheet.HEADER, "pending": pending, "form": {}, **extra})

    @get("/import", sync_to_thread=True, guards=[VILLAGE])
    def import_page(self, session: DbSession, user: CurrentUser, cancelled: FromQuery[int | None] = None) -> Template:
        return self._import_page(session, user, notice="已取消该次导入，上传的文件已删除。" if cancelled else "")

    @post("/import", sync_to_thread=True, guards=[VILLAGE])
    def upload(self, session: DbSession, reader: ReadSession, user: CurrentUser,
               data: Annotated[dict[str, Any], MULTIPART]) -> Template | Redirect:
        """Read and check the file in the read-only session (no write lock however long it takes), then store it
        with its preview in a short write; a file that cannot be read is not kept."""
        file = data.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            error = Refused("请选择要导入的 Excel 文件", field="file")
            return self._import_page(session, user, status_code=422, error=error, errors=error.errors)
        content = file.file.read()
        try:
            result = spreadsheet.preview_file(reader, user, content)
        except Refused as error:
            return self._import_page(session, user, status_code=422, error=error, errors=error.errors)
        upload = spreadsheet.store_preview(session, user, file.filename, content, result)
        return Redirect(f"/households/import/{upload.id}", status_code=303)

    @get("/import/{upload_id:int}", sync_to_thread=True, guards=[VILLAGE])
    def preview(self, session: DbSession, user: CurrentUser, upload_id: FromPath[int]) -> Template:
        upload, result = spreadsheet.stored_preview(session, user, upload_id)
        return Template("households/preview.html", context={
            "result": result, "upload": upload, "done": upload.used_at is not None,
            "progress": spreadsheet.import_progress(upload)})

    @post("/import/{upload_id:int}/confirm", sync_to_thread=True, guards=[VILLAGE])
    def confirm(self, session: DbSession, reader: ReadSession, user: CurrentUser,
                upload_id: FromPath[int]) -> Redirect:
        upload, parsed = spreadsheet.read_upload(reader, user, upload_id)  # read again, outside any write
        spreadsheet.confirm_upload(session, user, upload, parsed)
        return Redirect(f"/households/import/{upload_id}", status_code=303)

    @post("/import/{upload_id:int}/cancel", sync_to_thread=True, guards=[VILLAGE])
    def cancel(self, session: DbSession, user: CurrentUser, upload_id: FromPath[int]) -> Redirect:
        spreadsheet.cancel_upload(session, user, upload_id)
        return Redirect("/households/import?cancelled=1", status_code=303)


def _listed_season(session, season_id: int | None) -> Season | None:
    """The season a registrations page lists: the one asked for (NotFound for an unknown id), else the active one
    (None when there is none)."""
    return seasons.season_or_active(session, season_id) if season_id is not None \
        else seasons.active_season_or_none(session)


class RegistrationPages(Controller):
    path = "/registrations"
    include_in_schema = False

    def _list(self, session, user, *, status="", village_id=None, q="", args: ListArgs | None = None, sort=None,
              status_code=200, season_id: int | None = None, **extra) -> Template:
        args = args or ListArgs.read()
        season = _listed_season(session, season_id)
        season_id = season.id if season else None
        result = households.list_registrations(session, status=status, village_id=village_id, q=q, sort=sort,
                                               season_id=season_id, **args.fetch)
        # No per-village counts here: their GROUP BY reads every registration of the season in scope, 20 ms of
        # server CPU and seconds at 700,000 registrations on every page (issue #19); /registrations/counts has them.
        villages = _villages(session)
        return Template("households/registrations.html", status_code=status_code, context={
            "me": user, "result": result, "status": status, "village_id": village_id, "q": q,
            "season_list": seasons.list_seasons(session), "open": season is not None and season.is_active
                                                                  and season.closed_at is None,
            "params": lists.params({"status": status, "village_id": village_id, "q": q,
                                    "season_id": None if season is None or season.is_active else season.id},
                                   paging.sort_key(sort, households.REGISTRATION_SORTS, "village"), args),
            "villages": villages, "village_names": {v.id: v.name for v in villages},
            "deciders": people.people(session, [row.registration.decided_by for row in result.items]),
            "statuses": REGISTRATION_STATUS_LABELS,
            "season": season,
            "notices": households.notices(session)[:10] if user.role in (Role.VILLAGE, Role.TOWN) else [],
            **extra})

    @get("/", sync_to_thread=True, guards=[READERS])
    def index(self, request: Request, session: DbSession, user: CurrentUser, status: FromQuery[str] = "",
              village_id: FromQuery[int | None] = None, season_id: FromQuery[int | None] = None,
              page: FromQuery[str | None] = None,
              done: FromQuery[str] = "", sort: FromQuery[str | None] = None,
              per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        message = DONE.get(done, "")
        if done.startswith("all-") and is_number(done[4:]):
            message = f"已审核通过{int(done[4:])}户。"
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        return self._list(session, user, status=status, village_id=village_id, args=args, sort=sort,
                          season_id=list_season_id(request, session, season_id), notice=message)

    @post("/search", sync_to_thread=True, guards=[READERS], status_code=200)
    def search(self, request: Request, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template:
        village_id = int(data["village_id"]) if is_number(str(data.get("village_id", ""))) else None
        season_id = as_int(data, "season_id", "采暖季", required=False)
        return self._list(session, user, status=str(data.get("status", "")), village_id=village_id,
                          q=str(data.get("q", "")), args=ListArgs.of_form(data), sort=data.get("sort"),
                          season_id=list_season_id(request, session, season_id))

    @get("/counts", sync_to_thread=True, guards=[READERS])
    def counts(self, request: Request, session: DbSession, user: CurrentUser,
               season_id: FromQuery[int | None] = None) -> Template:
        season = _listed_season(session, list_season_id(request, session, season_id))
        by_village, by_town = households.counts(session, season.id if season else None)
        return Template("households/counts.html", context={
            "by_village": by_village, "by_town": by_town, "statuses": REGISTRATION_STATUS_LABELS,
            "season": season, "season_list": seasons.list_seasons(session)})

    @get("/export.xlsx", sync_to_thread=True, guards=[READERS])
    def export(self, request: Request, session: DbSession, user: CurrentUser, status: FromQuery[str] = "",
               village_id: FromQuery[int | None] = None, season_id: FromQuery[int | None] = None) -> Response[bytes]:
        season = _listed_season(session, list_season_id(request, session, season_id))
        return _xlsx("registrations.xlsx", spreadsheet.export_registrations(
            session, user, status=status, village_id=village_id, season_id=season.id if season else None))

    @post("/{registration_id:int}/approve", sync_to_thread=True, guards=[TOWN])
    def approve(self, session: DbSession, user: CurrentUser, registration_id: FromPath[int]) -> Redirect:
        households.approve(session, user, registration_id)
        return Redirect("/registrations?status=noticed&done=approved", status_code=303)

    @post("/{registration_id:int}/reject", sync_to_thread=True, guards=[TOWN])
    def reject(self, session: DbSession, user: CurrentUser, registration_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Redirect:
        households.reject(session, user, registration_id, str(data.get("reason", "")))
        return Redirect("/registrations?status=noticed&done=rejected", status_code=303)

    @post("/approve-chosen", sync_to_thread=True, guards=[TOWN])
    def approve_chosen(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        """The ticked registrations, all approved or none (households.approve_chosen); a refusal shows the list
        again with the reason naming each that cannot be approved, answered 409."""
        raw = data.get("ids", [])
        ids = [int(i) for i in (raw if isinstance(raw, list) else [raw]) if is_number(str(i))]
        try:
            done = households.approve_chosen(session, user, ids)
        except (Conflict, Refused) as error:
            discard(session)
            return self._list(session, user, status="noticed", error=error,
                              status_code=409 if isinstance(error, Conflict) else 422)
        return Redirect(f"/registrations?status=approved&done=all-{len(done)}", status_code=303)

    @post("/approve-all", sync_to_thread=True, guards=[TOWN])
    def approve_all(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Redirect:
        village_id = int(data["village_id"]) if is_number(str(data.get("village_id", ""))) else None
        count = households.approve_all_due(session, user, village_id)
        return Redirect(f"/registrations?status=approved&done=all-{count}", status_code=303)

    @post("/notice", sync_to_thread=True, guards=[VILLAGE])
    def publish(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Redirect:
        notice, _ = households.publish_notice(
            session, user, user.village_id, str(data.get("objection_contact", "")))
        return Redirect(f"/registrations/notices/{notice.id}", status_code=303)

    @get("/notices/{notice_id:int}", sync_to_thread=True, guards=[READERS])
    def notice_page(self, session: DbSession, user: CurrentUser, notice_id: FromPath[int]) -> Template:
        found = households.notice(session, notice_id)
        rows = households.notice_rows(session, notice_id)
        return Template("households/notice.html", context={
            "the_notice": found, "rows": rows, "total": column_totals([r for r, _ in rows], "coal_kg", "stoves"),
            "village": session.get(Village, found.village_id),
            "season": session.get(Season, found.season_id)})

    @get("/notices/{notice_id:int}/notice.xlsx", sync_to_thread=True, guards=[READERS])
    def notice_xlsx(self, session: DbSession, user: CurrentUser, notice_id: FromPath[int]) -> Response[bytes]:
        return _xlsx(f"notice-{notice_id}.xlsx", spreadsheet.export_notice(session, notice_id))


controllers = [HouseholdPages, RegistrationPages]
