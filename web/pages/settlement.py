"""Pages of monthly summaries (supplier builds, seals and submits; reviewers approve, return, set slips aside) and
settlements (finance settles, exports, records the payment; the supplier, the bureau and the auditor read)."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from subsidy.core import clock, paging
from subsidy.settlement import sheets
from subsidy.core.errors import Refused
from subsidy.models import COPIES, COPY_OF_OFFICE, Role, Settlement, SettlementStatus, Summary, User
from subsidy.core.scope import get_or_404
from web.api.settlement import xlsx
from web import lists
from subsidy.policy import seasons
from web.deps import CurrentUser, DbSession, listed_season, season_param
from web.lists import ListArgs
from web.forms import FORM, discard, is_number
from web.guards import SETTLEMENT_READERS, SUMMARY_READERS, requires
from subsidy.settlement import statements, summaries
from subsidy.verification import callbacks
from subsidy.rules import months
from subsidy.rules.money import column_totals

READERS = SUMMARY_READERS


def _go(url: str) -> Redirect:
    """303 to a local page; the Chinese notice in the query string is percent-encoded."""
    return Redirect(quote(url, safe="/?=&-"), status_code=303)


def _ids(data: dict) -> list[int]:
    raw = data.get("ids", [])
    raw = raw if isinstance(raw, list) else [raw]
    return [int(x) for x in raw if is_number(str(x))]


def _index_context(session: Session, user: User, month: str | None, status: str | None,
                   args: ListArgs, sort: str | None = None, season=None) -> dict[str, Any]:
    """The summaries page: what waits for the caller (any season), and the list of `season` (the one chosen at the
    top; the active one when None)."""
    towns, suppliers = summaries.names(session)
    waiting = summaries.queue(session, user)
    season = season or seasons.active_season_or_none(session)
    filters = {"month": month or "", "status": status or "", "season_id": season_param(season)}
    return {"waiting": waiting, "waiting_total": column_totals(
        waiting, "slip_count", "coal_kg", "stoves", "amount_fen", "subsidy_fen"),
        "pg": summaries.list_summaries(session, month=month or None, status=status or None, sort=sort,
                                       season_id=season.id if season else None, **args.fetch),
        "season": season, "season_list": seasons.list_seasons(session),
        "params": lists.params(filters, paging.sort_key(sort, summaries.SORTS, summaries.DEFAULT_SORT), args),
        "towns": towns, "suppliers": suppliers,
        "month": month or "", "status": status or "", "this_month": months.month_of(clock.today()),
        "set_aside": summaries.set_aside_slips(session) if user.role == Role.SUPPLIER else [],
        "can_bulk": user.role in summaries.BULK_ROLES,
        "samples": callbacks.progress(session, [s.id for s in waiting])}


def _show_context(session: Session, user: User, summary_id: int) -> dict[str, Any]:
    summary = get_or_404(session, Summary, summary_id)
    towns, suppliers = summaries.names(session)
    flagged = summaries.slips_with_flags(session, summary, user)
    my_turn = summaries.TURN.get(summary.status) == user.role
    # Where the money stands: its statement, or the earlier statements it waits beside. Towns see no statements
    # (scope).
    statement = session.get(Settlement, summary.settlement_id) if summary.settlement_id else None
    earlier = statements.earlier_statements(session, summary)
    editable = summary.status in summaries.EDITABLE
    awaits = editable and summaries.awaits_month_end(summary)
    return {"summary": summary, "town": towns.get(summary.town_id, ""), "supplier": suppliers[summary.supplier_id],
            "slips": flagged, "flag_count": sum(1 for f in flagged if f.flags),
            "unscanned": summaries.unscanned_copies(flagged) if my_turn else [],
            "awaits_month_end": awaits, "can_allow_early": awaits and user.role in summaries.EARLY_ALLOWERS,
            "early_allowed_by": summaries.early_allowed_by(session, summary),
            "events": summaries.history_with_names(session, summary.id), "my_turn": my_turn,
            "editable": user.role == Role.SUPPLIER and editable,
            "statement": statement, "earlier_statements": earlier,
            "sees_statements": user.role in SETTLEMENT_READERS,
            "sample": callbacks.progress(session, [summary.id]).get(summary.id),
            "can_sample": user.role in (Role.TOWN, Role.DRC) and summary.status in callbacks.DRAWABLE}


class SummaryPages(Controller):
    path = "/summaries"
    include_in_schema = False
    guards = [requires(*READERS)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request, session: DbSession, user: CurrentUser, month: FromQuery[str | None] = None,
              season_id: FromQuery[int | None] = None,
              status: FromQuery[str | None] = None, page: FromQuery[str | None] = None,
              notice: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
              per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        season = listed_season(request, session, season_id)
        try:
            context = _index_context(session, user, month, status, args, sort, season)
        except Refused as error:
            context = _index_context(session, user, None, None, ListArgs.read(), season=season) | {"error": error}
        return Template("summaries/index.html", context=context | {"notice": notice})

    @post("/build", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def build(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        month = str(data.get("month", ""))
        try:
            drafts = summaries.build_summaries(session, clerk=user, month=month)
        except Refused as error:
            discard(session)
            return Template("summaries/index.html", status_code=422, context=_index_context(
                session, user, None, None, ListArgs.read()) | {"error": error, "errors": error.errors, "form": data})
        if not drafts:
            return _go("/summaries?notice=该月没有尚未汇总的销售单")
        return _go(f"/summaries?month={months.parse_month(month)}&notice=已生成{len(drafts)}张汇总表草稿")

    @post("/approve-many", sync_to_thread=True, guards=[requires(*summaries.BULK_ROLES)])
    def approve_many(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        """A chosen set from the queue: first a confirmation naming the chosen ones that will be approved, their
        count and totals, their unscanned copies, and the others with the reason each is left; then, confirmed,
        those approved in one transaction."""
        ids = _ids(data)
        if not data.get("confirmed"):
            try:
                chosen = summaries.choose(session, reviewer=user, summary_ids=ids)
            except Refused as error:
                return Template("summaries/index.html", status_code=422, context=_index_context(
                    session, user, None, None, ListArgs.read()) | {"error": error, "errors": error.errors})
            unscanned = _unscanned_of(session, user, [s.id for s in chosen.approvable])
            return _confirm_approval(session, user, data, [s.id for s in chosen.approvable], unscanned,
                                     "/summaries/approve-many", chosen=chosen)
        try:
            done = summaries.approve_many(session, reviewer=user, summary_ids=ids,
                                          comment=str(data.get("comment", "")),
                                          seen={i: summaries.Figures.parse(str(data.get(f"seen-{i}", ""))) for i in ids})
        except summaries.SetNotApproved as error:
            discard(session)  # all or none: the approvals of the others are rolled back
            return Template("summaries/index.html", status_code=409, context=_index_context(
                session, user, None, None, ListArgs.read()) | {"error": error, "refused": error.refused})
        return _go(f"/summaries?notice=已审核通过{len(done.approved)}张汇总表")

    @get("/{summary_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
             notice: FromQuery[str | None] = None) -> Template:
        return Template("summaries/show.html", context=_show_context(session, user, summary_id) | {"notice": notice})

    @get("/{summary_id:int}/print", sync_to_thread=True)
    def print_page(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> Template:
        summary = get_or_404(session, Summary, summary_id)
        towns, suppliers = summaries.names(session)
        standing = [f.slip for f in summaries.slips_with_flags(session, summary, user) if f.slip.status == "issued"]
        done = _steps_done(summaries.history_with_names(session, summary.id))
        seals = [("配送企业", done.get(Role.SUPPLIER, ""), ["经办人"]),
                 ("街道/镇", done.get(Role.TOWN, ""), ["审核人", "负责人"]),
                 ("区发改局", done.get(Role.DRC, ""), ["审核人", "负责人"]),
                 ("区财政局", done.get(Role.FINANCE, ""), ["审核人", "负责人"])]
        return Template("summaries/print.html", context={
            "summary": summary, "town": towns.get(summary.town_id, ""), "supplier": suppliers[summary.supplier_id],
            "slips": standing, "seals": seals})

    @get("/{summary_id:int}/xlsx", sync_to_thread=True)
    def spreadsheet(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> Response:
        return xlsx(*sheets.summary_xlsx(session, summary_id, user))

    def _act(self, session, user, summary_id, work, notice: str) -> Template | Redirect:
        try:
            work()
        except Refused as error:
            discard(session)
            return Template("summaries/show.html", status_code=422,
                            context=_show_context(session, user, summary_id) | {"error": error,
                                                                                "errors": error.errors})
        return _go(f"/summaries/{summary_id}?notice={notice}")

    @post("/{summary_id:int}/rebuild", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def rebuild(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> Template | Redirect:
        return self._act(session, user, summary_id,
                         lambda: summaries.rebuild(session, clerk=user, summary_id=summary_id), "已重新生成")

    @post("/{summary_id:int}/submit", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def submit(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        return self._act(session, user, summary_id, lambda: summaries.submit(
            session, clerk=user, summary_id=summary_id, password=str(data.get("password", ""))), "已盖章提交")

    @post("/{summary_id:int}/allow-early", sync_to_thread=True, guards=[requires(*summaries.EARLY_ALLOWERS)])
    def allow_early(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> Template | Redirect:
        return self._act(session, user, summary_id, lambda: summaries.allow_early(
            session, reviewer=user, summary_id=summary_id), "已同意企业在月末前提交")

    @post("/{summary_id:int}/approve", sync_to_thread=True)
    def approve(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
                data: Annotated[dict, FORM]) -> Template | Redirect:
        # An office approving money for slips whose paper copy it has not scanned is asked first, naming them: a step
        # on the server, so that it holds without script too. Only for the reviewer whose turn it is; anyone else
        # gets the service's refusal.
        if not data.get("confirmed"):
            unscanned = _unscanned_of(session, user, [summary_id])
            if unscanned:
                return _confirm_approval(session, user, data, [summary_id], unscanned,
                                         f"/summaries/{summary_id}/approve")
        return self._act(session, user, summary_id, lambda: summaries.approve(
            session, reviewer=user, summary_id=summary_id, comment=str(data.get("comment", "")),
            seen=summaries.Figures.parse(str(data.get("seen", "")))), "已审核通过")

    @post("/{summary_id:int}/return", sync_to_thread=True)
    def return_(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
                data: Annotated[dict, FORM]) -> Template | Redirect:
        return self._act(session, user, summary_id, lambda: summaries.return_summary(
            session, reviewer=user, summary_id=summary_id, reason=str(data.get("reason", ""))), "已退回企业")

    @post("/{summary_id:int}/set-aside", sync_to_thread=True)
    def set_aside(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
                  data: Annotated[dict, FORM]) -> Template | Redirect:
        slip_id = int(data["slip_id"]) if is_number(str(data.get("slip_id", ""))) else 0
        return self._act(session, user, summary_id, lambda: summaries.set_aside(
            session, reviewer=user, summary_id=summary_id, slip_id=slip_id, reason=str(data.get("reason", ""))),
            "已剔除该销售单")

    @post("/release/{slip_id:int}", sync_to_thread=True, guards=[requires(Role.SUPPLIER)])
    def release(self, session: DbSession, user: CurrentUser, slip_id: FromPath[int]) -> Redirect:
        summaries.release_slip(session, clerk=user, slip_id=slip_id)
        return _go("/summaries?notice=该销售单可在以后月份的汇总表中重新汇总")


def _date_text(value) -> str:
    return clock.local(value).strftime("%Y-%m-%d") if hasattr(value, "hour") else value.isoformat()


def _steps_done(events) -> dict:
    """Role -> what the record says it did on the summary as it stands ("2026-12-01 王会计 盖章提交"): the seal of the
    last submission and the approvals after it (a return starts the chain again)."""
    done: dict = {}
    for event, name in events:
        when = clock.local(event.at).strftime("%Y-%m-%d %H:%M")
        if event.action == "submit":
            done = {Role.SUPPLIER: f"{when} {name} 电子印章确认提交"}
        elif event.action == "approve":
            done[Role(event.role)] = f"{when} {name} 审核通过" + (f"：{event.comment}" if event.comment else "")
        elif event.action == "return":
            done = {}
    return done


def _unscanned_of(session: Session, user: User, ids: list[int]) -> dict[int, list]:
    """Summary id -> its standing slips whose copy the caller's office has not scanned, for the summaries it is the
    caller's turn to approve (out of scope or out of turn: left to the service to refuse)."""
    found = {}
    for summary_id in ids:
        summary = session.get(Summary, summary_id)
        if summary is None or summaries.TURN.get(summary.status) != user.role:
            continue
        slips = summaries.unscanned_copies(summaries.slips_with_flags(session, summary, user))
        if slips:
            found[summary_id] = slips
    return found


def _confirm_approval(session: Session, user: User, data: dict, ids: list[int], unscanned: dict[int, list],
                      action: str, chosen: summaries.Chosen | None = None) -> Template:
    towns, suppliers = summaries.names(session)
    listed = chosen.approvable if chosen else [s for s in (session.get(Summary, i) for i in ids) if s is not None]
    return Template("summaries/confirm_approve.html", context={
        "action": action, "summaries": listed, "unscanned": unscanned, "chosen": chosen,
        "towns": towns, "suppliers": suppliers, "comment": str(data.get("comment", "")),
        "seen": {i: str(data.get("seen" if action.endswith(f"/{i}/approve") else f"seen-{i}", "")) for i in ids},
        "bulk": action.endswith("approve-many"), "copy": COPIES[COPY_OF_OFFICE[Role(user.role)]][0],
        "copy_no": COPY_OF_OFFICE[Role(user.role)]})


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        return None


class SettlementPages(Controller):
    path = "/settlements"
    include_in_schema = False
    guards = [requires(*SETTLEMENT_READERS)]

    def _index(self, session, user, status: str | None = None, args: ListArgs | None = None, month: str | None = None,
               sort: str | None = None, **extra) -> dict:
        towns, suppliers = summaries.names(session)
        args = args or ListArgs.read()
        return {"pg": statements.list_settlements(session, status=status or None, month=month or None, sort=sort,
                                                  **args.fetch),
                "params": lists.params({"status": status or "", "month": month or ""},
                                       paging.sort_key(sort, statements.SORTS, statements.DEFAULT_SORT), args),
                "suppliers": suppliers, "status": status or "", "month": month or "",
                "ready": statements.ready_to_settle(session) if user.role == Role.FINANCE else [],
                "is_finance": user.role == Role.FINANCE, **extra}

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, user: CurrentUser, notice: FromQuery[str | None] = None,
              status: FromQuery[str | None] = None, month: FromQuery[str | None] = None,
              page: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
              per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              before: FromQuery[str | None] = None, count: FromQuery[str | None] = None) -> Template:
        args = ListArgs.read(page=page, per_page=per_page, after=after, before=before, count=count)
        try:
            context = self._index(session, user, status, args, month, sort, notice=notice)
        except Refused as error:
            context = self._index(session, user, notice=notice, error=error)
        return Template("settlements/index.html", context=context)

    @post("/", sync_to_thread=True, guards=[requires(Role.FINANCE)])
    def settle(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        try:
            supplier_id = int(data.get("supplier_id", 0))
            statement, created = statements.settle(session, officer=user, supplier_id=supplier_id,
                                                   month=str(data.get("month", "")))
        except (Refused, ValueError) as error:
            discard(session)
            return Template("settlements/index.html", status_code=422,
                            context=self._index(session, user, error=error))
        notice = ("已生成补充结算单" if statement.seq > 1 else "已生成结算单") if created else "结算单已存在"
        return _go(f"/settlements/{statement.id}?notice={notice}")

    def _show(self, session, settlement_id: int, **extra) -> dict:
        statement = get_or_404(session, Settlement, settlement_id)
        towns, suppliers = summaries.names(session)
        by_town, by_fund = statements.statement_lines(session, statement.id)
        return {"statement": statement, "supplier": suppliers[statement.supplier_id], "towns": towns,
                "by_town": by_town, "by_fund": by_fund, "summaries": statements.summaries_of_statement(session,
                                                                                                     statement.id),
                "month_statements": statements.statements_of_month(session, statement.supplier_id, statement.month),
                "waiting": statements.ready_to_settle(session, supplier_id=statement.supplier_id,
                                                      month=statement.month),
                "today": clock.today().isoformat(), "form": {}, **extra}

    @get("/{settlement_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, settlement_id: FromPath[int],
             notice: FromQuery[str | None] = None) -> Template:
        return Template("settlements/show.html",
                        context=self._show(session, settlement_id, notice=notice, is_finance=user.role == Role.FINANCE))

    @get("/{settlement_id:int}/print", sync_to_thread=True)
    def print_page(self, session: DbSession, settlement_id: FromPath[int]) -> Template:
        context = self._show(session, settlement_id)
        statement = context["statement"]
        paid = f"{_date_text(statement.paid_on)} 支付，凭证号 {statement.payment_reference}" if statement.paid_on else ""
        made = f"{_date_text(statement.created_at)} 生成结算单"
        return Template("settlements/print.html", context=context | {"seals": [
            ("区财政局", "；".join(x for x in (made, paid) if x), ["经办人", "审核人", "负责人"]),
            ("配送企业", "", ["收款确认人"])]})

    @get("/{settlement_id:int}/xlsx", sync_to_thread=True)
    def spreadsheet(self, session: DbSession, user: CurrentUser, settlement_id: FromPath[int]) -> Response:
        return xlsx(*sheets.settlement_xlsx(session, settlement_id, user))

    @get("/{settlement_id:int}/payment.xlsx", sync_to_thread=True, guards=[requires(Role.FINANCE)])
    def payment_instruction(self, session: DbSession, user: CurrentUser, settlement_id: FromPath[int]) -> Response:
        return xlsx(*sheets.payment_instruction_xlsx(session, [settlement_id], user))

    @post("/{settlement_id:int}/pay", sync_to_thread=True, guards=[requires(Role.FINANCE)])
    def pay(self, session: DbSession, user: CurrentUser, settlement_id: FromPath[int],
            data: Annotated[dict, FORM]) -> Template | Redirect:
        # A payment is recorded once and for good: the officer confirms the amount, the account and the reference
        # on a page of their own first (a step on the server: it holds without script). What the service would
        # refuse anyway (no reference, no date) is refused at once, without the step.
        reference, paid_on = str(data.get("reference", "")).strip(), _parse_date(str(data.get("paid_on", "")))
        if not data.get("confirmed") and reference and paid_on \
                and get_or_404(session, Settlement, settlement_id).status == SettlementStatus.SETTLED:
            return Template("settlements/confirm_pay.html", context=self._show(
                session, settlement_id, reference=reference, paid_on=paid_on, is_finance=True))
        try:
            statements.pay(session, officer=user, settlement_id=settlement_id, reference=str(data.get("reference", "")),
                           paid_on=_parse_date(str(data.get("paid_on", ""))))
        except Refused as error:
            discard(session)
            return Template("settlements/show.html", status_code=422, context=self._show(
                session, settlement_id, error=error, errors=error.errors, form=data, is_finance=True))
        return _go(f"/settlements/{settlement_id}?notice=已登记支付")


controllers = [SummaryPages, SettlementPages]
