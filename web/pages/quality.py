"""Pages of government spot checks (抽检): the season's list with the re-tests due and the coverage (per supplier
and per depot), the batches awaiting a re-test (/quality/retests), the form that records one against a batch, and
a spot check beside the supplier's own report with the slips sold from the batch."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.core import clock, paging
from subsidy.core.errors import Refused
from subsidy.models import Depot, Role, Supplier
from subsidy.policy import quality, seasons
from subsidy.quality import coverage, inspections
from subsidy.supply import batches
from web import lists
from web.deps import CurrentUser, DbSession, listed_season
from web.forms import MULTIPART, UPLOAD_LIMIT, as_date, discard, page_number, refused, text_fields, uploaded
from web.guards import SPOT_CHECK_READERS, requires
from web.lists import ListArgs


def _form_context(session, batch_id: int | None, form: dict) -> dict[str, Any]:
    batch = batches.get(session, batch_id) if batch_id else None
    standard = quality.standard_for(session, batch.season_id, batch.product) if batch else None
    return {"form": form, "batch": batch, "standard": standard, "indicators": quality.INDICATORS,
            "supplier": session.get(Supplier, batch.supplier_id) if batch else None, "today": clock.today()}


class SpotCheckPages(Controller):
    path = "/quality"
    include_in_schema = False
    guards = [requires(*SPOT_CHECK_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, season_id: FromQuery[int | None] = None,
              passed: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
              page: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        season = listed_season(request, session, season_id)  # asked for, else chosen at the top, else active
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        passed = passed if passed in ("0", "1") else ""
        pg = inspections.listing(session, season_id=season.id, passed={"1": True, "0": False}.get(passed),
                                 sort=sort, **args.fetch) if season else paging.Page([], args.per_page, total=0)
        filters = {"season_id": season.id if season else None, "passed": passed}
        return Template("quality/index.html", context={
            "me": user, "season": season, "seasons": seasons.list_seasons(session), "pg": pg, "filters": filters,
            "params": lists.params(filters, paging.sort_key(sort, inspections.LIST_SORTS, "-sampled_on"), args),
            "awaiting_count": inspections.awaiting_count(session, season.id) if season else 0,
            "retests": inspections.retests(session, season.id) if season else [],
            "coverage": coverage.coverage(session, season.id) if season else [],
            "depot_coverage": coverage.by_depot(session, season.id) if season else []})

    @get("/retests", sync_to_thread=True)
    def awaiting(self, request: Request, session: DbSession, user: CurrentUser,
                 season_id: FromQuery[int | None] = None,
                 sort: FromQuery[str | None] = None, page: FromQuery[str | None] = None,
                 per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
                 before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        season = listed_season(request, session, season_id)  # asked for, else chosen at the top, else active
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        pg = inspections.awaiting_retest(session, season.id, sort=sort, **args.fetch) if season \
            else paging.Page([], args.per_page, total=0)
        filters = {"season_id": season.id if season else None}
        return Template("quality/retests.html", context={
            "me": user, "season": season, "seasons": seasons.list_seasons(session), "pg": pg, "filters": filters,
            "params": lists.params(filters, paging.sort_key(sort, inspections.AWAITING_SORTS, "id"), args)})

    @get("/new", sync_to_thread=True, guards=[requires(Role.DRC)])
    def new(self, session: DbSession, batch_id: FromQuery[int]) -> Template:
        context = _form_context(session, batch_id, {})
        depot = session.get(Depot, context["batch"].depot_id) if context["batch"].depot_id else None
        # Where the batch was taken in: the usual place of the sample, unless the depot has closed since (deactivated
        # depots are offered for nothing new); the bureau then types where it sampled.
        if depot is not None and depot.active:
            context["form"] = {"place": f"{depot.name}（{depot.address}）"[:100]}
        return Template("quality/new.html", context=context)

    @post("/new", sync_to_thread=True, guards=[requires(Role.DRC)], request_max_body_size=UPLOAD_LIMIT)
    def create(self, session: DbSession, user: CurrentUser, batch_id: FromQuery[int],
               data: Annotated[dict, MULTIPART]) -> Template | Redirect:
        try:
            form = inspections.SpotCheckInput(
                sampled_on=as_date(data, "sampled_on", "抽样日期"), place=data.get("place", ""),
                sampler=data.get("sampler", ""), lab=data.get("lab", ""), report_no=data.get("report_no", ""),
                values={i.key: data.get(i.key, "") for i in quality.INDICATORS})
            check = inspections.record(session, user, batch_id, form, report=uploaded(data, "report"))
        except Refused as error:
            discard(session)
            context = _form_context(session, batch_id, {})
            context.pop("form")
            return refused("quality/new.html", error, text_fields(data), **context)
        return Redirect(f"/quality/{check.id}?new=1", status_code=303)

    @get("/{check_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, check_id: FromPath[int],
             page: FromQuery[int | None] = None, new: FromQuery[int | None] = None) -> Template:
        check = inspections.get(session, check_id)
        batch = batches.get(session, check.batch_id)
        standard = quality.standard_for(session, batch.season_id, batch.product)
        page = page_number(page)
        sold, sold_total = inspections.sold_from(session, batch.id, page=page)
        return Template("quality/show.html", context={
            "me": user, "c": check, "b": batch, "supplier": session.get(Supplier, batch.supplier_id),
            "judged": quality.judged(check, standard), "other": quality.judged(batch, standard),
            "contradicts": check.passed != batch.passed, "new": bool(new),
            "villages": inspections.sold_by_village(session, batch.id), "sold": sold, "sold_total": sold_total,
            "page": page, "per_page": inspections.PER_PAGE, "pager_url": f"/quality/{check.id}?"})


controllers = [SpotCheckPages]
