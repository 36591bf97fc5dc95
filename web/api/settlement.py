"""Summaries and settlements in the JSON API (CONTRACT.md).

`POST /summaries/{id}/submit` needs no password: the bearer token, obtained with the supplier's password, is the
company's seal (the page asks for the password again instead).

`POST /settlements/{id}/pay` honours `Idempotency-Key` (web/api/idempotency.py): a retry with the same key and body
gets the first answer again; without a key a second payment is a 409.
"""

from __future__ import annotations

from datetime import date, datetime

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from web.api.idempotency import idempotent
from subsidy.settlement import sheets
from subsidy.core.errors import NotFound
from subsidy.models import Role, Settlement, Summary
from subsidy.core.scope import get_or_404
from web.api import API, IsoDate, RowId
from web.lists import ListArgs
from web.deps import CurrentUser, DbSession
from web.forms import is_number
from web.guards import requires
from subsidy.settlement import statements, summaries
from subsidy.verification import callbacks

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = (Role.SUPPLIER, Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN)


class MonthIn(BaseModel):
    month: str


class ReasonIn(BaseModel):
    reason: str


class FiguresIn(BaseModel):
    """The totals the reviewer saw; an approval of other figures is refused with 409 and the current ones."""

    slip_count: int = Field(ge=0)
    coal_kg: int = Field(ge=0)
    stoves: int = Field(ge=0)
    amount_fen: int = Field(ge=0)
    subsidy_fen: int = Field(ge=0)


class CommentIn(BaseModel):
    comment: str = ""
    seen: FiguresIn | None = None


class ChosenIn(BaseModel):
    """A chosen set to approve at once, all or none; `seen`: the figures the caller saw, by summary id (optional, as
    for one summary)."""
    ids: list[RowId] = Field(min_length=1, max_length=500)
    comment: str = ""
    seen: dict[int, FiguresIn] | None = None


class EventOut(BaseModel):
    at: datetime
    user_id: int | None
    role: str
    action: str
    from_status: str
    to_status: str
    comment: str
    person: str = ""  # who took the step: the person's name (subsidy/core/people.py)
    unit: str = ""    # and their unit: the supplier, the town, 区发改局, 区财政局


class SampleProgressOut(BaseModel):
    size: int
    done: int  # callbacks recorded: reached, or not reached after three tries
    discrepancies: int


class SummaryOut(BaseModel):
    id: int
    supplier_id: int
    town_id: int
    month: str
    status: str
    slip_count: int
    coal_kg: int
    stoves: int
    amount_fen: int
    subsidy_fen: int
    settlement_id: int | None
    history: list[EventOut] | None = None
    sample: SampleProgressOut | None = None  # its callback sample (回访抽查), on the single summary's answer


class SettleIn(BaseModel):
    supplier_id: RowId
    month: str


class PayIn(BaseModel):
    reference: str
    paid_on: IsoDate


class TownLineOut(BaseModel):
    town_id: int
    slip_count: int
    coal_kg: int
    stoves: int
    amount_fen: int
    subsidy_fen: int


class FundLineOut(BaseModel):
    fund: str
    name: str
    share_bp: int
    subsidy_fen: int


class SettlementOut(BaseModel):
    id: int
    number: str
    supplier_id: int
    month: str
    seq: int  # 1, or 2, 3, ... for a supplementary statement of the month (summaries approved after the first)
    status: str
    slip_count: int
    coal_kg: int
    stoves: int
    amount_fen: int
    subsidy_fen: int
    by_town: list[TownLineOut]
    by_fund: list[FundLineOut]
    payment_reference: str
    paid_on: date | None


def summary_out(summary: Summary, session: Session | None = None) -> SummaryOut:
    out = SummaryOut(**{k: getattr(summary, k) for k in SummaryOut.model_fields if k not in ("history", "sample")})
    if session is not None:
        out.history = [EventOut(**{k: getattr(e, k) for k in EventOut.model_fields if k not in ("person", "unit")},
                                person=who.name, unit=who.unit)
                       for e, who in summaries.history_with_names(session, summary.id)]
        sample = callbacks.progress(session, [summary.id]).get(summary.id)
        out.sample = SampleProgressOut(**sample.as_dict()) if sample else None
    return out


def settlement_out(session: Session, statement: Settlement) -> SettlementOut:
    towns, funds = statements.statement_lines(session, statement.id)
    return SettlementOut(
        **{k: getattr(statement, k) for k in SettlementOut.model_fields if k not in ("by_town", "by_fund")},
        by_town=[TownLineOut(**{k: getattr(t, k) for k in TownLineOut.model_fields}) for t in towns],
        by_fund=[FundLineOut(**{k: getattr(f, k) for k in FundLineOut.model_fields}) for f in funds])


def xlsx(filename: str, content: bytes) -> Response:
    from urllib.parse import quote

    return Response(content, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def _id_and_format(key: FromPath[str]) -> tuple[int, bool]:
    """`/summaries/12` or `/summaries/12.xlsx`: one path segment, so one handler reads both."""
    raw, is_xlsx = (key[:-5], True) if key.endswith(".xlsx") else (key, False)
    if not is_number(raw):
        raise NotFound()
    return int(raw), is_xlsx


class SummariesApi(Controller):
    path = API + "/summaries"
    tags = ["summaries"]

    @post("/", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=201)
    def build(self, session: DbSession, user: CurrentUser, data: JSONBody[MonthIn]) -> list[SummaryOut]:
        """Draft summaries of the month, one per town, from the supplier's unsummarised issued slips."""
        drafts = summaries.build_summaries(session, clerk=user, month=data.month)
        return [summary_out(s) for s in drafts]

    @get("/", sync_to_thread=True, guards=[requires(*READERS)])
    def index(self, session: DbSession, month: FromQuery[str | None] = None, status: FromQuery[str | None] = None,
              page: FromQuery[int] = 1, per_page: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
              sort: FromQuery[str | None] = None) -> Response:
        """A page of the summaries in scope (a list, as CONTRACT.md has it); the next page's cursor, if any, is the
        `X-Next-Cursor` header, to pass back as `after=`. `page=` beyond 1,000 is 422 (use the cursor)."""
        pg = summaries.list_summaries(session, month=month, status=status, sort=sort,
                                      **ListArgs.api(page=page, per_page=per_page, after=after).fetch | {"count": False})
        return Response([summary_out(s).model_dump(mode="json") for s in pg.items],
                        headers={"X-Next-Cursor": pg.next} if pg.next else {})

    @get("/{key:str}", sync_to_thread=True, guards=[requires(*READERS)])
    def show(self, session: DbSession, user: CurrentUser, key: FromPath[str]) -> Response:
        """The summary with its review history; `/summaries/{id}.xlsx` is the official 销售汇总表."""
        summary_id, is_xlsx = _id_and_format(key)
        if is_xlsx:
            return xlsx(*sheets.summary_xlsx(session, summary_id, user))
        return Response(summary_out(get_or_404(session, Summary, summary_id), session).model_dump(mode="json"))

    @post("/{summary_id:int}/submit", sync_to_thread=True, guards=[requires(Role.SUPPLIER)], status_code=200)
    def submit(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> SummaryOut:
        summary = summaries.submit(session, clerk=user, summary_id=summary_id, password=None)
        return summary_out(summary)

    @post("/{summary_id:int}/allow-early", sync_to_thread=True, guards=[requires(Role.TOWN, Role.DRC)],
          status_code=200)
    def allow_early(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int]) -> SummaryOut:
        """The town (its own towns) or the bureau lets the supplier submit a month that has not ended yet."""
        return summary_out(summaries.allow_early(session, reviewer=user, summary_id=summary_id))

    @post("/approve", sync_to_thread=True, guards=[requires(*summaries.BULK_ROLES)], status_code=200)
    def approve_chosen(self, session: DbSession, user: CurrentUser, data: JSONBody[ChosenIn]) -> list[SummaryOut]:
        """Approve a chosen set, all or none: 200 with every summary approved; 409 when any of them cannot be (none
        is then), with `refused`: `[{id, number, reason}]` naming each such summary and why."""
        seen = {i: summaries.Figures(**f.model_dump()) for i, f in (data.seen or {}).items()}
        done = summaries.approve_many(session, reviewer=user, summary_ids=data.ids, comment=data.comment, seen=seen)
        return [summary_out(s) for s in done.approved]

    @post("/{summary_id:int}/approve", sync_to_thread=True, status_code=200)
    def approve(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int], data: JSONBody[CommentIn | None] = None) -> SummaryOut:
        comment = data.comment if data else ""
        seen = summaries.Figures(**data.seen.model_dump()) if data and data.seen else None
        return summary_out(summaries.approve(session, reviewer=user, summary_id=summary_id, comment=comment,
                                             seen=seen))

    @post("/{summary_id:int}/return", sync_to_thread=True, status_code=200)
    def return_(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int], data: JSONBody[ReasonIn]) -> SummaryOut:
        return summary_out(summaries.return_summary(
            session, reviewer=user, summary_id=summary_id, reason=data.reason))


class SettlementsApi(Controller):
    path = API + "/settlements"
    tags = ["settlements"]

    @post("/", sync_to_thread=True, guards=[requires(Role.FINANCE)])
    def settle(self, session: DbSession, user: CurrentUser, data: JSONBody[SettleIn]) -> Response:
        """201 with a new statement, 200 with the existing one for that supplier and month. Summaries approved after
        the month's statement was made get a supplementary statement (201, `seq` 2, 3, ...), never the old one."""
        statement, created = statements.settle(session, officer=user, supplier_id=data.supplier_id, month=data.month)
        return Response(settlement_out(session, statement).model_dump(mode="json"), status_code=201 if created else 200)

    @get("/{key:str}", sync_to_thread=True,
         guards=[requires(Role.FINANCE, Role.DRC, Role.AUDITOR, Role.SUPPLIER, Role.ADMIN)])
    def show(self, session: DbSession, user: CurrentUser, key: FromPath[str]) -> Response:
        settlement_id, is_xlsx = _id_and_format(key)
        if is_xlsx:
            return xlsx(*sheets.settlement_xlsx(session, settlement_id, user))
        statement = get_or_404(session, Settlement, settlement_id)
        return Response(settlement_out(session, statement).model_dump(mode="json"))

    @post("/{settlement_id:int}/pay", sync_to_thread=True, guards=[requires(Role.FINANCE)], status_code=200)
    def pay(self, request: Request, session: DbSession, user: CurrentUser, settlement_id: FromPath[int],
            data: JSONBody[PayIn]) -> Response:
        def work():
            statement = statements.pay(session, officer=user, settlement_id=settlement_id,
                                       reference=data.reference, paid_on=data.paid_on)
            return 200, settlement_out(session, statement).model_dump(mode="json")

        return idempotent(request, session, user, f"POST /settlements/{settlement_id}/pay",
                          data.model_dump(mode="json"), work)


controllers = [SummariesApi, SettlementsApi]
