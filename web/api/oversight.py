"""Cases in the JSON API (CONTRACT.md, "Oversight"): open, list, read, close; accept and reopen besides. The anomaly
flags: listed under /reports/anomalies, dismissed or confirmed (a case) under /anomalies, and run now.

Scope is the session's (a town's API sees its own town's cases; another's is 404); the guards keep finance and the
auditor to reading.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pydantic import BaseModel, Field

from subsidy.models import AnomalyFlag, Case
from subsidy.oversight import anomalies, cases
from web.api import API, MAX_INT, PageFields, RowId
from web.deps import CurrentUser, DbSession
from web.lists import ListArgs
from web.guards import ANOMALY_READERS, ANOMALY_REVIEWERS, CASE_READERS, CASE_WRITERS, requires


class CaseIn(BaseModel):
    channel: str
    category: str
    description: str
    household_id: RowId | None = None
    slip_number: str | None = Field(default=None, max_length=64)
    supplier_id: RowId | None = None
    batch_id: RowId | None = None
    town_id: RowId | None = None
    comment: str = ""


class CloseIn(BaseModel):
    outcome: str
    finding: str
    comment: str = ""


class CommentIn(BaseModel):
    comment: str = ""


class EventOut(BaseModel):
    at: datetime
    username: str
    role: str
    action: str
    from_status: str
    to_status: str
    comment: str


class LinkOut(BaseModel):
    kind: str
    target_id: int
    label: str


class CaseOut(BaseModel):
    id: int
    number: str
    status: str
    channel: str
    category: str
    description: str
    town_id: int | None
    deadline: date
    overdue: bool
    finding: str
    outcome: str
    created_at: datetime
    closed_at: datetime | None
    links: list[LinkOut] = []
    history: list[EventOut] = []


class CasePage(PageFields):
    items: list[CaseOut]


def case_out(case: Case, links=(), history=()) -> CaseOut:
    return CaseOut(**{k: getattr(case, k) for k in CaseOut.model_fields if k not in ("overdue", "links", "history")},
                   overdue=cases.is_overdue(case),
                   links=[LinkOut(kind=x.kind, target_id=x.target_id, label=x.label) for x in links],
                   history=[EventOut(**{k: getattr(e, k) for k in EventOut.model_fields}) for e in history])


def _full(session, case: Case) -> CaseOut:
    v = cases.view(session, case.id)
    return case_out(v.case, v.links, v.history)




class CasesApi(Controller):
    path = API + "/cases"
    tags = ["oversight"]

    @post("/", sync_to_thread=True, guards=[requires(*CASE_WRITERS)], status_code=201)
    def open(self, session: DbSession, user: CurrentUser, data: JSONBody[CaseIn]) -> CaseOut:
        """201 with the new case, `status: "open"`; a town's case is its own town's, the bureau's without
        `town_id` stays with the bureau. A link outside the caller's scope is 422 naming its field."""
        case = cases.open_case(session, user, **data.model_dump())
        return _full(session, case)

    @get("/", sync_to_thread=True, guards=[requires(*CASE_READERS)])
    def index(self, session: DbSession, status: FromQuery[str | None] = None,
              category: FromQuery[str | None] = None,
              town_id: Annotated[int | None, Parameter(ge=0, le=MAX_INT)] = None,
              season_id: Annotated[int | None, Parameter(ge=1, le=MAX_INT)] = None,
              page: Annotated[int, Field(ge=1, le=MAX_INT)] = 1, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None) -> CasePage:
        """Cases in the caller's scope, newest first, 50 a page, each with its links and history; `town_id=0`:
        the bureau's own; `season_id`: those received in that season (every season without it)."""
        pg = cases.list_cases(session, status=status, category=category, town_id=town_id, season_id=season_id,
                              **ListArgs.api(page=page, per_page=per_page, after=after, before=before).fetch)
        items = pg.items
        ids = [c.id for c in items]
        links, history = cases.links_of(session, ids), cases.histories(session, ids)
        return CasePage(items=[case_out(c, links[c.id], history[c.id]) for c in items], **PageFields.of(pg))

    @get("/{case_id:int}", sync_to_thread=True, guards=[requires(*CASE_READERS)])
    def show(self, session: DbSession, case_id: FromPath[int]) -> CaseOut:
        v = cases.view(session, case_id)
        return case_out(v.case, v.links, v.history)

    @post("/{case_id:int}/accept", sync_to_thread=True, guards=[requires(*CASE_WRITERS)], status_code=200)
    def accept(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
               data: JSONBody[CommentIn | None] = None) -> CaseOut:
        return _full(session, cases.accept(session, user, case_id, comment=data.comment if data else ""))

    @post("/{case_id:int}/close", sync_to_thread=True, guards=[requires(*CASE_WRITERS)], status_code=200)
    def close(self, session: DbSession, user: CurrentUser, case_id: FromPath[int], data: JSONBody[CloseIn]) -> CaseOut:
        """200 `status: "closed"`; 409 when it is closed already."""
        return _full(session, cases.close(session, user, case_id, finding=data.finding, outcome=data.outcome,
                                          comment=data.comment))

    @post("/{case_id:int}/reopen", sync_to_thread=True, guards=[requires(*CASE_WRITERS)], status_code=200)
    def reopen(self, session: DbSession, user: CurrentUser, case_id: FromPath[int],
               data: JSONBody[CommentIn]) -> CaseOut:
        return _full(session, cases.reopen(session, user, case_id, comment=data.comment))


# --- anomaly flags ---------------------------------------------------------------------------------------------------

class EvidenceOut(BaseModel):
    kind: str          # household or slip: what `ids` are
    ids: list[int]     # sorted; the households' or slips' ids (their pages: /households/{id}, slips by number)
    count: int
    figure: int
    base: int
    summary: str       # the rule's figures in words: 共3户, 作废7张（开单100张）
    explanation: str   # the rule in words


class FlagOut(BaseModel):
    id: int
    rule: str
    title: str
    subject: str       # masked: a phone by its last four digits
    evidence: EvidenceOut
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    reviewed_at: datetime | None
    reason: str
    case_id: int | None


class FlagPage(PageFields):
    items: list[FlagOut]


class DismissIn(BaseModel):
    reason: str


class ConfirmIn(BaseModel):
    comment: str = ""


class RunOut(BaseModel):
    season_id: int | None
    ran: bool
    raised: dict[str, int]
    open: dict[str, int]


def flag_out(flag: AnomalyFlag) -> FlagOut:
    rule = anomalies.RULES.get(flag.rule)
    return FlagOut(id=flag.id, rule=flag.rule, title=anomalies.title_of(flag.rule), subject=flag.subject,
                   evidence=EvidenceOut(kind=flag.member_kind, ids=anomalies.member_ids(flag), count=flag.size,
                                        figure=flag.figure, base=flag.base, summary=anomalies.figures_of(flag),
                                        explanation=rule.explanation if rule else ""),
                   status=flag.status, first_seen_at=flag.first_seen_at, last_seen_at=flag.last_seen_at,
                   reviewed_at=flag.reviewed_at, reason=flag.reason, case_id=flag.case_id)


class AnomalyReportApi(Controller):
    path = API + "/reports/anomalies"
    tags = ["oversight"]

    @get("/", sync_to_thread=True, guards=[requires(*ANOMALY_READERS)])
    def index(self, session: DbSession, rule: FromQuery[str | None] = None, status: FromQuery[str | None] = None,
              season_id: Annotated[int | None, Parameter(ge=1, le=MAX_INT)] = None,
              page: Annotated[int, Field(ge=1, le=MAX_INT)] = 1, per_page: FromQuery[str | None] = None,
              after: FromQuery[str | None] = None, before: FromQuery[str | None] = None) -> FlagPage:
        """The flags, newest first, `per_page` 20, 50 (the default) or 100 a page, each with its evidence (`ids` of
        the households or slips); `next` and `prev` are the cursors of the pages beside (`after=`, `before=`),
        `total` counts up to 10,000 (`total_capped` when there are more); `page=` up to 1,000; `season_id`: the flags of that season's runs (every season without it)."""
        pg = anomalies.list_flags(session, rule=rule, status=status, season_id=season_id,
                                  **ListArgs.api(page=page, per_page=per_page, after=after, before=before).fetch)
        return FlagPage(items=[flag_out(f) for f in pg.items], **PageFields.of(pg))


class AnomaliesApi(Controller):
    path = API + "/anomalies"
    tags = ["oversight"]
    guards = [requires(*ANOMALY_REVIEWERS)]

    @post("/{flag_id:int}/dismiss", sync_to_thread=True, status_code=200)
    def dismiss(self, session: DbSession, user: CurrentUser, flag_id: FromPath[int],
                data: JSONBody[DismissIn]) -> FlagOut:
        """200 `status: "dismissed"`; the same evidence is never flagged again. 409 when reviewed already."""
        return flag_out(anomalies.dismiss(session, user, flag_id, reason=data.reason))

    @post("/{flag_id:int}/confirm", sync_to_thread=True, status_code=200)
    def confirm(self, session: DbSession, user: CurrentUser, flag_id: FromPath[int],
                data: JSONBody[ConfirmIn | None] = None) -> FlagOut:
        """200 `status: "confirmed"` with the `case_id` of the case it opened. 409 when reviewed already."""
        return flag_out(anomalies.confirm(session, user, flag_id, comment=data.comment if data else ""))

    @post("/run", sync_to_thread=True, status_code=200)
    def run(self, session: DbSession, user: CurrentUser) -> RunOut:
        """Run the rules now over the active season (`ran` false: another process is running them)."""
        result = anomalies.run(session, user)
        if result is None:
            return RunOut(season_id=None, ran=False, raised={}, open={})
        return RunOut(season_id=result.season_id, ran=result.ran, raised=result.raised, open=result.open)


controllers = [CasesApi, AnomalyReportApi, AnomaliesApi]
