"""Pages of the suppliers area: suppliers, quality standards, contracts and coverage, batches, the in/out ledger,
and attachment downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.supply import attachments, batches, contracts, depots, ledger, suppliers
from subsidy.policy import quality, regions, seasons
from subsidy.core import paging
from subsidy.quality import inspections
from subsidy.core.errors import NotFound, Refused
from subsidy.models import COAL_PRODUCTS, PRODUCT_LABELS, SUPPLIER_STATUS_LABELS, Product, Role, Season, Supplier, Town
from web import lists
from web.deps import CurrentUser, DbSession, list_season_id, listed_season, season_param
from web.lists import ListArgs
from web.forms import (
    FORM, MULTIPART, REFUSED_OR_DUPLICATE, UPLOAD_LIMIT, as_date, discard, is_number, refused, text_fields, uploaded,
)
from web.guards import CONTRACT_READERS, STOCK_READERS, SUPPLIER_READERS, requires

def _supplier_input(form: dict, products: list[str]) -> suppliers.SupplierInput:
    return suppliers.SupplierInput(
        code=form.get("code", ""), name=form.get("name", ""), credit_code=form.get("credit_code", ""),
        slip_prefix=form.get("slip_prefix", ""), legal_rep=form.get("legal_rep", ""),
        contact_name=form.get("contact_name", ""), contact_phone=form.get("contact_phone", ""),
        address=form.get("address", ""), bank_name=form.get("bank_name", ""),
        bank_account=form.get("bank_account", ""), tender_notice_no=form.get("tender_notice_no", ""),
        tender_date=as_date(form, "tender_date", "中标日期"), products=products)


def _products_from(form: dict) -> list[str]:
    value = form.get("products") or []
    return [value] if isinstance(value, str) else list(value)


def _show_context(session, user, supplier_id: int, *, saved=None) -> dict[str, Any]:
    supplier = suppliers.get(session, supplier_id)
    season = seasons.active_season_or_none(session)
    rows = contracts.listing(session, supplier_id=supplier.id, season_id=season.id if season else None,
                             per_page=200, count=False).items
    return {"s": supplier, "me": user, "contracts": rows, "products_label": suppliers.products_label(supplier),
            "notice": "已保存" if saved else None, "depots": depots.of_supplier(session, supplier.id),
            "town_options": [(t.id, t.name) for t in regions.towns(session)]}


def _depot_input(form: dict) -> depots.DepotInput:
    town = str(form.get("town_id") or "").strip()
    return depots.DepotInput(name=form.get("name", ""), address=form.get("address", ""),
                             town_id=int(town) if is_number(town) else None)


def _depot_of(session, supplier_id: int, depot_id: int):
    """The depot of that supplier in the path (NotFound for another supplier's: the path names both)."""
    depot = depots.get(session, depot_id)
    if depot.supplier_id != supplier_id:
        raise NotFound()
    return depot


def _depot_form_context(session, depot, form: dict | None) -> dict[str, Any]:
    context = {"depot": depot, "s": suppliers.get(session, depot.supplier_id),
               "town_options": [(t.id, t.name) for t in regions.towns(session)]}
    return context if form is None else {**context, "form": form}


def _supplier_form(s: Supplier) -> dict:
    return {"code": s.code, "name": s.name, "credit_code": s.credit_code, "slip_prefix": s.slip_prefix,
            "legal_rep": s.legal_rep, "contact_name": s.contact_name, "contact_phone": s.contact_phone,
            "address": s.address, "bank_name": s.bank_name, "bank_account": s.bank_account,
            "tender_notice_no": s.tender_notice_no, "tender_date": s.tender_date.isoformat() if s.tender_date else "",
            "products": suppliers.products_of(s)}


class SuppliersPages(Controller):
    path = "/suppliers"
    include_in_schema = False
    guards = [requires(*SUPPLIER_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, user: CurrentUser, page: FromQuery[str | None] = None,
              saved: FromQuery[int | None] = None, status: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
              count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        status = status if status in SUPPLIER_STATUS_LABELS else None
        pg = suppliers.listing(session, status=status, sort=sort, **args.fetch)
        return Template("suppliers/list.html", context={
            "pg": pg, "params": lists.params({"status": status}, paging.sort_key(sort, suppliers.SORTS, "code"), args),
            "statuses": SUPPLIER_STATUS_LABELS, "me": user,
            "products_label": suppliers.products_label, "notice": "已保存" if saved else None})

    @get("/new", sync_to_thread=False, guards=[requires(Role.DRC)])
    def new(self) -> Template:
        return Template("suppliers/form.html", context={"form": {"products": []}, "supplier": None})

    @post("/new", sync_to_thread=True, guards=[requires(Role.DRC)])
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        products = _products_from(data)
        form = {**data, "products": products}
        try:
            supplier = suppliers.create(session, user, _supplier_input(data, products))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("suppliers/form.html", error, form, supplier=None)
        return Redirect(f"/suppliers/{supplier.id}?saved=1", status_code=303)

    @get("/{supplier_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
             saved: FromQuery[int | None] = None) -> Template:
        return Template("suppliers/show.html", context=_show_context(session, user, supplier_id, saved=saved))

    @post("/{supplier_id:int}/depots", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC)])
    def add_depot(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
                  data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            depots.create(session, user, supplier_id, _depot_input(data))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("suppliers/show.html", error, data, **_show_context(session, user, supplier_id))
        return Redirect(f"/suppliers/{supplier_id}?saved=1#depots", status_code=303)

    @get("/{supplier_id:int}/depots/{depot_id:int}/edit", sync_to_thread=True,
         guards=[requires(Role.SUPPLIER, Role.DRC)])
    def edit_depot_form(self, session: DbSession, supplier_id: FromPath[int], depot_id: FromPath[int]) -> Template:
        depot = _depot_of(session, supplier_id, depot_id)
        return Template("suppliers/depot_form.html", context=_depot_form_context(session, depot, {
            "name": depot.name, "address": depot.address, "town_id": str(depot.town_id)}))

    @post("/{supplier_id:int}/depots/{depot_id:int}/edit", sync_to_thread=True,
          guards=[requires(Role.SUPPLIER, Role.DRC)])
    def edit_depot(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int], depot_id: FromPath[int],
                   data: Annotated[dict, FORM]) -> Template | Redirect:
        depot = _depot_of(session, supplier_id, depot_id)
        try:
            depots.update(session, user, depot.id, _depot_input(data))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("suppliers/depot_form.html", error, text_fields(data),
                           **_depot_form_context(session, _depot_of(session, supplier_id, depot_id), None))
        return Redirect(f"/suppliers/{supplier_id}?saved=1#depots", status_code=303)

    @post("/{supplier_id:int}/depots/{depot_id:int}/active", sync_to_thread=True,
          guards=[requires(Role.SUPPLIER, Role.DRC)])
    def depot_active(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
                     depot_id: FromPath[int], data: Annotated[dict, FORM]) -> Template | Redirect:
        depot = _depot_of(session, supplier_id, depot_id)
        try:
            depots.set_active(session, user, depot.id, data.get("active") == "1")
        except Refused as error:
            discard(session)
            return refused("suppliers/show.html", error, {}, **_show_context(session, user, supplier_id))
        return Redirect(f"/suppliers/{supplier_id}?saved=1#depots", status_code=303)

    @get("/{supplier_id:int}/edit", sync_to_thread=True, guards=[requires(Role.DRC)])
    def edit(self, session: DbSession, supplier_id: FromPath[int]) -> Template:
        supplier = suppliers.get(session, supplier_id)
        return Template("suppliers/form.html", context={"form": _supplier_form(supplier), "supplier": supplier})

    @post("/{supplier_id:int}/edit", sync_to_thread=True, guards=[requires(Role.DRC)])
    def update(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        supplier = suppliers.get(session, supplier_id)
        products = _products_from(data)
        try:
            suppliers.update(session, user, supplier_id, _supplier_input(data, products))
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("suppliers/form.html", error, {**data, "products": products}, supplier=supplier)
        return Redirect(f"/suppliers/{supplier_id}?saved=1", status_code=303)

    @post("/{supplier_id:int}/status", sync_to_thread=True, guards=[requires(Role.DRC)])
    def status(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            suppliers.set_status(session, user, supplier_id, data.get("status", ""), data.get("reason", ""))
        except Refused as error:
            discard(session)
            supplier = suppliers.get(session, supplier_id)
            return refused("suppliers/show.html", error, data, s=supplier, me=user, contracts=[],
                           products_label=suppliers.products_label(supplier))
        return Redirect(f"/suppliers/{supplier_id}?saved=1", status_code=303)

    @get("/{supplier_id:int}/contact", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC)])
    def contact_form(self, session: DbSession, supplier_id: FromPath[int]) -> Template:
        s = suppliers.get(session, supplier_id)
        return Template("suppliers/contact.html", context={"s": s, "form": {
            "contact_name": s.contact_name, "contact_phone": s.contact_phone, "address": s.address}})

    @post("/{supplier_id:int}/contact", sync_to_thread=True, guards=[requires(Role.SUPPLIER, Role.DRC)])
    def contact(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int],
                data: Annotated[dict, FORM]) -> Template | Redirect:
        s = suppliers.get(session, supplier_id)
        try:
            suppliers.update_contact(
                session, user, supplier_id, contact_name=data.get("contact_name", ""),
                contact_phone=data.get("contact_phone", ""), address=data.get("address", ""))
        except Refused as error:
            discard(session)
            return refused("suppliers/contact.html", error, data, s=s)
        return Redirect(f"/suppliers/{supplier_id}?saved=1", status_code=303)

    # --- quality standards ---

    @get("/standards", sync_to_thread=True)
    def standards(self, session: DbSession, user: CurrentUser, season_id: FromQuery[int | None] = None,
                  saved: FromQuery[int | None] = None) -> Template:
        return Template("suppliers/standards.html", context=_standards_context(session, user, season_id, saved))

    @post("/standards", sync_to_thread=True, guards=[requires(Role.DRC)])
    def save_standard(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            season_id = int(data.get("season_id") or 0)
        except ValueError:
            raise NotFound() from None
        try:
            if data.get("apply_preset"):
                quality.apply_preset(session, user, season_id, data.get("product", ""), data.get("preset", ""))
            else:
                quality.save_standard(session, user, season_id, data.get("product", ""), source=data.get("source", ""),
                                      preset=data.get("preset", ""),
                                      **{i.key: data.get(i.key, "") for i in quality.INDICATORS})
        except Refused as error:
            discard(session)
            return refused("suppliers/standards.html", error, data,
                           **_standards_context(session, user, season_id, None))  # no "form" key in the context
        return Redirect(f"/suppliers/standards?season_id={season_id}&saved=1", status_code=303)

    @post("/standards/retest", sync_to_thread=True, guards=[requires(Role.DRC)])
    def save_retest_days(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]
                         ) -> Template | Redirect:
        try:
            season_id = int(data.get("season_id") or 0)
        except ValueError:
            raise NotFound() from None
        try:
            quality.save_retest_days(session, user, season_id, data.get("retest_days", ""))
        except Refused as error:
            discard(session)
            return refused("suppliers/standards.html", error, data, **_standards_context(session, user, season_id, None))
        return Redirect(f"/suppliers/standards?season_id={season_id}&saved=1", status_code=303)


def _standards_context(session, user, season_id: int | None, saved) -> dict[str, Any]:
    all_seasons = seasons.list_seasons(session)
    season = next((s for s in all_seasons if s.id == season_id), None) or seasons.active_season_or_none(session) \
        or (all_seasons[0] if all_seasons else None)
    standards = quality.standards_of(session, season.id) if season else []
    have = {s.product: s for s in standards}
    return {"seasons": all_seasons, "season": season, "standards": standards, "me": user,
            "by_product": [(p, have.get(p)) for p in COAL_PRODUCTS], "indicators": quality.INDICATORS,
            "presets": quality.PRESETS, "status_labels": quality.STATUS_LABELS, "limit_text": quality.limit_text,
            "notice": "质量标准已保存" if saved else None}


def _choices(session) -> dict[str, Any]:
    return {
        "supplier_options": [(s.id, f"{s.name}（{s.code}）") for s in suppliers.all_in_scope(session)],
        "town_options": [(t.id, t.name) for t in regions.towns(session)],
        "season_options": [(s.id, s.name) for s in seasons.list_seasons(session)],
        "product_options": [(str(p), PRODUCT_LABELS[p]) for p in Product],
    }


class ContractsPages(Controller):
    path = "/contracts"
    include_in_schema = False
    guards = [requires(*CONTRACT_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, page: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None, supplier_id: FromQuery[int | None] = None,
              town_id: FromQuery[int | None] = None, per_page: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        season_id = list_season_id(request, session, season_id)  # a past season chosen at the top; else every season
        pg = contracts.listing(session, season_id=season_id, supplier_id=supplier_id, town_id=town_id, sort=sort,
                               **args.fetch)
        filters = {"season_id": season_id, "supplier_id": supplier_id, "town_id": town_id}
        return Template("suppliers/contracts.html", context={
            "pg": pg, "rows": pg.items, "me": user,
            "params": lists.params(filters, paging.sort_key(sort, contracts.SORTS, "-id"), args),
            "filters": {k: v or "" for k, v in filters.items()}, **_choices(session)})

    @get("/coverage", sync_to_thread=True)
    def coverage(self, request: Request, session: DbSession, season_id: FromQuery[int | None] = None) -> Template:
        season = listed_season(request, session, season_id)  # asked for, else chosen at the top, else active
        cover = contracts.coverage(session, season.id) if season else []
        return Template("suppliers/coverage.html", context={"season": season, "coverage": cover,
                                                           **_choices(session)})

    @get("/new", sync_to_thread=True, guards=[requires(Role.DRC)])
    def new(self, session: DbSession, supplier_id: FromQuery[int | None] = None) -> Template:
        season = seasons.active_season_or_none(session)
        form = {"season_id": season.id if season else "", "supplier_id": supplier_id or ""}
        return Template("suppliers/contract_form.html", context={"form": form, **_choices(session)})

    @post("/new", sync_to_thread=True, guards=[requires(Role.DRC)])
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        def as_id(key):
            try:
                return int(data.get(key) or 0) or None
            except ValueError:
                return None
        try:
            form = contracts.ContractInput(
                supplier_id=as_id("supplier_id"), town_id=as_id("town_id"), season_id=as_id("season_id"),
                product=data.get("product", ""), price=data.get("price", ""),
                signed_on=as_date(data, "signed_on", "签订日期"), guarantee_received=bool(data.get("guarantee_received")))
            contract = contracts.create(session, user, form)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("suppliers/contract_form.html", error, data, **_choices(session))
        return Redirect(f"/contracts/{contract.id}", status_code=303)

    @get("/{contract_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, contract_id: FromPath[int],
             saved: FromQuery[int | None] = None) -> Template:
        return Template("suppliers/contract.html", context={**_contract_context(session, contract_id), "me": user,
                                                           "notice": "附件已上传" if saved else None})

    @post("/{contract_id:int}/attachments", sync_to_thread=True, guards=[requires(Role.DRC)],
          request_max_body_size=UPLOAD_LIMIT)
    def upload(self, session: DbSession, user: CurrentUser, contract_id: FromPath[int],
               data: Annotated[dict, MULTIPART]) -> Template | Redirect:
        contracts.get(session, contract_id)
        upload = uploaded(data, "file")
        try:
            if upload is None:
                raise Refused("请选择要上传的文件", field="file")
            contracts.attach(session, user, contract_id, data.get("kind", ""), filename=upload[0], data=upload[1])
        except Refused as error:
            discard(session)
            return refused("suppliers/contract.html", error, text_fields(data), me=user,
                           **_contract_context(session, contract_id))
        return Redirect(f"/contracts/{contract_id}?saved=1", status_code=303)


def _contract_context(session, contract_id: FromPath[int]) -> dict[str, Any]:
    contract = contracts.get(session, contract_id)
    supplier = session.get(Supplier, contract.supplier_id)
    town = session.get(Town, contract.town_id)
    season = session.get(Season, contract.season_id)
    files = {}
    for key in ("contract_attachment_id", "guarantee_attachment_id"):
        attachment_id = getattr(contract, key)
        if attachment_id:
            try:
                files[key] = attachments.for_download(session, attachment_id)
            except NotFound:
                pass
    return {"c": contract, "supplier": supplier, "town": town, "season": season, "files": files}


def _batch_form(data: dict) -> batches.BatchInput:
    raw_kg = (data.get("quantity_kg") or "").strip().replace(",", "")
    try:
        kg = int(raw_kg) if raw_kg else None
    except ValueError:
        raise Refused("进货数量应为整数（千克）", field="quantity_kg") from None
    depot = str(data.get("depot_id") or "").strip()
    return batches.BatchInput(
        product=data.get("product", ""), quantity_kg=kg, producer=data.get("producer", ""),
        origin=data.get("origin", ""), arrival_date=as_date(data, "arrival_date", "到货日期"),
        vehicle=data.get("vehicle", ""), report_no=data.get("report_no", ""), lab=data.get("lab", ""),
        report_date=as_date(data, "report_date", "检测报告日期"), depot_id=int(depot) if is_number(depot) else None,
        **{i.key: data.get(i.key, "") for i in quality.INDICATORS})


def _coal_options():
    return [(str(p), PRODUCT_LABELS[p]) for p in COAL_PRODUCTS]


class BatchesPages(Controller):
    path = "/batches"
    include_in_schema = False
    guards = [requires(*STOCK_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, page: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              product: FromQuery[str | None] = None, passed: FromQuery[str | None] = None,
              supplier_id: FromQuery[int | None] = None, per_page: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        passed_value = {"1": True, "0": False}.get(passed or "")
        season = listed_season(request, session, season_id)  # asked for, else chosen at the top, else active
        pg = batches.listing(session, product=product or None, passed=passed_value, supplier_id=supplier_id,
                             season_id=season.id if season else None, sort=sort, **args.fetch)
        filters = {"product": product, "passed": passed, "supplier_id": supplier_id, "season_id": season_param(season)}
        return Template("suppliers/batches.html", context={
            "season": season, "season_list": seasons.list_seasons(session),
            "pg": pg, "rows": pg.items, "me": user,
            "params": lists.params(filters, paging.sort_key(sort, batches.SORTS, "-id"), args),
            "filters": {k: v or "" for k, v in filters.items()},
            "product_options": _coal_options(), "reasons": batches.reasons,
            "supplier_options": [(s.id, s.name) for s in suppliers.all_in_scope(session)]})

    @get("/new", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def new(self, session: DbSession, user: CurrentUser) -> Template:
        season = seasons.active_season_or_none(session)
        return Template("suppliers/batch_form.html", context=_batch_form_context(session, user, season, {}))

    @post("/new", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], request_max_body_size=UPLOAD_LIMIT)
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, MULTIPART]) -> Template | Redirect:
        try:
            form = _batch_form(data)
            report = uploaded(data, "report")
            batch = batches.record(session, user, user.supplier_id, form, report=report)
        except Refused as error:
            discard(session)
            context = _batch_form_context(session, user, seasons.active_season_or_none(session), text_fields(data))
            context.pop("form")
            return refused("suppliers/batch_form.html", error, text_fields(data), **context)
        return Redirect(f"/batches/{batch.id}?new=1", status_code=303)

    @get("/{batch_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, batch_id: FromPath[int], new: FromQuery[int | None] = None) -> Template:
        batch = batches.get(session, batch_id)
        supplier = session.get(Supplier, batch.supplier_id)
        standard = quality.standard_for(session, batch.season_id, batch.product)
        return Template("suppliers/batch.html", context={
            "b": batch, "supplier": supplier, "standard": standard, "reasons": batches.reasons(batch), "me": user,
            "left_kg": batch.quantity_kg - batch.sold_kg, "new": bool(new),
            "depot": depots.get(session, batch.depot_id) if batch.depot_id else None,
            "judged": quality.judged(batch, standard), "unreported": quality.unreported(batch, standard)
            if standard else [], "checks": inspections.of_batch(session, batch.id)})


def _batch_form_context(session, user, season, form) -> dict[str, Any]:
    standards = quality.standards_of(session, season.id) if season else []
    return {"form": form, "season": season, "standards": standards, "product_options": _coal_options(),
            "indicators": quality.INDICATORS, "depot_options": [
                (r.depot.id, f"{r.depot.name}（{r.town}）")
                for r in depots.of_supplier(session, user.supplier_id, active_only=True)]}


class LedgerPages(Controller):
    path = "/ledger"
    include_in_schema = False
    guards = [requires(*STOCK_READERS)]

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, user: CurrentUser) -> Template:
        return Template("suppliers/ledger_index.html", context={
            "rows": ledger.overview(session), "season": seasons.active_season(session), "me": user,
            "warn_days": ledger.WARN_DAYS})

    @get("/{supplier_id:int}/{product:str}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, supplier_id: FromPath[int], product: FromPath[str],
             page: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page)
        book = ledger.build(session, supplier_id, product, page=args.page, per_page=args.per_page)
        return Template("suppliers/ledger.html", context={
            "book": book, "rows": book.rows, "me": user, "warn_days": ledger.WARN_DAYS,
            "pg": paging.Page(book.rows, book.per_page, book.page, total=book.row_count),
            "params": lists.params({}, None, args)})

    @get("/{supplier_id:int}/{product:str}/xlsx", sync_to_thread=True)
    def xlsx(self, session: DbSession, supplier_id: FromPath[int], product: FromPath[str]) -> Response:
        book = ledger.build(session, supplier_id, product, page=None)
        name = f"进销货台账-{book.supplier.code}-{product}.xlsx"
        return Response(ledger.to_xlsx(session, book), media_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


class AttachmentsPages(Controller):
    path = "/attachments"
    include_in_schema = False

    @get("/{attachment_id:int}", sync_to_thread=True)
    def download(self, session: DbSession, user: CurrentUser, attachment_id: FromPath[int]) -> Response:
        a = attachments.for_download(session, attachment_id)
        return Response(a.data, media_type=a.content_type, headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(a.filename)}",
            "X-Content-Type-Options": "nosniff"})


controllers = [SuppliersPages, ContractsPages, BatchesPages, LedgerPages, AttachmentsPages]
