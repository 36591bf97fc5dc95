"""Cases (投诉举报与问题线索): a complaint, a tip or a finding, with its channel, category, what it concerns, the
town it is assigned to (or the bureau), a deadline and an outcome. Every step is a `case_event` row and an audit
entry; a case is never deleted, and a reopened case keeps its history.

Who: the town opens and handles the cases of its own town (another town's case, or the bureau's, is not found: the
session's scope hides it, subsidy/core/scope.py); the bureau (drc) all of them; finance and the auditor read only.
The system itself (`user=None`: a callback with a discrepancy, a failed spot check, a confirmed anomaly flag) opens
cases too, with the channel `callback`, `inspection` or `system`.

States (`NEXT`): open → in_progress (accepted) → closed (finding and action taken); open → closed directly; closed
→ in_progress again (reopened). Each move is a conditional UPDATE on the status the caller saw, so two clerks
closing at once close once (the other gets Conflict, 409).

Numbers: `TS-21A-0001`, district code, season code and a per-season sequence from `case_counter`, taken by an
UPDATE in the opening transaction: unique (a constraint) and gapless (a rolled-back opening gives its number back).

Deadlines: the days of the case's category in its season's policy (`case_deadline`, edited on the season's policy
page and in the API: `save_deadlines`), from the day the case is opened (China time); a category the policy does not
set has `DEFAULT_DEADLINE_DAYS`. A case keeps the deadline it was opened with when the policy changes later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging
from subsidy.core.db import is_unique_violation
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import (
    CASE_CATEGORY_LABELS, CASE_CHANNEL_LABELS, CASE_FINDING_LABELS, Batch, Case, CaseCategory,
    CaseCounter, CaseDeadline, CaseEvent, CaseLink, CaseLinkKind, CaseStatus, District, Household, Role, Season, Slip,
    Supplier, Town, User,
)
from subsidy.policy.seasons import active_season
from subsidy.rules.text import clean_text

DESCRIPTION_MAX = 2000
COMMENT_MAX = 1000
# Days to handle a case of a category the season's policy does not set (counted from the day it is opened).
DEFAULT_DEADLINE_DAYS = 7
DEADLINE_DAYS_MAX = 365  # the CHECK of case_deadline.days
WRITERS = frozenset({Role.TOWN, Role.DRC})
READERS = frozenset({Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR})

# (action, status now) → status after. "close" takes a finding and the action taken; the others a comment.
NEXT = {
    ("accept", CaseStatus.OPEN): CaseStatus.IN_PROGRESS,
    ("close", CaseStatus.OPEN): CaseStatus.CLOSED,
    ("close", CaseStatus.IN_PROGRESS): CaseStatus.CLOSED,
    ("reopen", CaseStatus.CLOSED): CaseStatus.IN_PROGRESS,
}
ACTION_LABELS = {"open": "登记", "accept": "受理", "close": "办结", "reopen": "重新办理", "note": "备注"}


@dataclass(frozen=True)
class CaseView:
    """A case with what a page or the API shows of it."""

    case: Case
    links: list[CaseLink]
    history: list[CaseEvent]
    town_name: str
    overdue: bool


def is_overdue(case: Case, today: date | None = None) -> bool:
    return case.status != CaseStatus.CLOSED and case.deadline < (today or clock.today())


def deadline_days(session: Session, season_id: int) -> dict[str, int]:
    """Days to handle a case, per category, in the season's policy: every category, the default where it sets none."""
    days = {str(c): DEFAULT_DEADLINE_DAYS for c in CaseCategory}
    days.update(session.execute(select(CaseDeadline.category, CaseDeadline.days)
                                .where(CaseDeadline.season_id == season_id)).all())
    return days


def deadline_for(session: Session, season_id: int, category: str, opened_on: date) -> date:
    """The deadline of a case of `category` opened on `opened_on` in the season."""
    days = session.execute(select(CaseDeadline.days).where(CaseDeadline.season_id == season_id,
                                                           CaseDeadline.category == category)).scalar_one_or_none()
    return opened_on + timedelta(days=days or DEFAULT_DEADLINE_DAYS)


def save_deadlines(session: Session, actor: User, season_id: int, values: dict) -> dict[str, int]:
    """Set the season's days per category from `values` (category → whole days 1 to 365, as text from the policy
    page or as numbers from the API; a blank or missing category takes the default). Refused whole, every wrong
    field named (`deadline_<category>`), when any is wrong; the bureau only. Cases opened earlier keep theirs."""
    if actor.role != Role.DRC:
        raise NotAllowed("只有区发改局可以设置案件办理期限")
    season = get_or_404(session, Season, season_id)
    unknown = sorted(set(values) - {str(c) for c in CaseCategory})
    errors: dict[str, str] = {}
    if unknown:
        errors["deadlines"] = f"未知的问题类别：{unknown[0][:32]}"
    chosen: dict[str, int] = {}
    for category in CaseCategory:
        raw = values.get(str(category))
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            chosen[str(category)] = DEFAULT_DEADLINE_DAYS
            continue
        text = raw.strip() if isinstance(raw, str) else raw
        if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and text.isascii()
                                                                     and text.isdigit())):
            errors[f"deadline_{category}"] = f"{CASE_CATEGORY_LABELS[category]}的办理期限应为整数天"
            continue
        days = int(text)
        if not 1 <= days <= DEADLINE_DAYS_MAX:
            errors[f"deadline_{category}"] = (f"{CASE_CATEGORY_LABELS[category]}的办理期限应在1至"
                                              f"{DEADLINE_DAYS_MAX}天之间")
            continue
        chosen[str(category)] = days
    if errors:
        raise Refused(next(iter(errors.values())), errors=errors)
    before = deadline_days(session, season.id)
    session.execute(delete(CaseDeadline).where(CaseDeadline.season_id == season.id))
    session.add_all(CaseDeadline(season_id=season.id, category=c, days=d) for c, d in chosen.items())
    session.flush()
    audit.record(session, actor, "case.deadlines_saved", season, entity_id=str(season.id),
                 before={"name": season.name, "case_deadlines": before},
                 after={"name": season.name, "case_deadlines": chosen})
    return chosen


def _require_writer(user: User | None) -> None:
    if user is not None and user.role not in WRITERS:
        raise NotAllowed("只有街道/镇和区发改局可以登记和办理案件")


def _choice(value, vocabulary, field: str, label: str) -> str:
    if not isinstance(value, str) or value not in set(vocabulary):
        raise Refused(f"请选择{label}", field=field)
    return value


def _event(session: Session, case: Case, user: User | None, action: str, from_status: str, to_status: str,
           comment: str) -> CaseEvent:
    event = CaseEvent(case_id=case.id, user_id=getattr(user, "id", None),
                      username=getattr(user, "username", "system") if user is not None else "system",
                      role=str(user.role) if user is not None else "", action=action, from_status=from_status,
                      to_status=to_status, comment=comment)
    session.add(event)
    return event


# --- numbers ---------------------------------------------------------------------------------------------------------

_counter_t = CaseCounter.__table__


def _next_seq(session: Session, season_id: int) -> int:
    """last_seq + 1 by an UPDATE in this transaction: the row stays locked (PostgreSQL) until commit, so numbers are
    unique and gapless; the first case of a season creates the counter (a racing creator loses to the constraint
    and takes the next number after theirs)."""
    statement = (update(_counter_t).where(_counter_t.c.season_id == season_id)
                 .values(last_seq=_counter_t.c.last_seq + 1).returning(_counter_t.c.last_seq))
    row = session.connection().execute(statement).first()
    if row is not None:
        return row[0]
    try:
        with session.begin_nested():
            session.connection().execute(insert(_counter_t), {"season_id": season_id, "last_seq": 1})
        return 1
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        return session.connection().execute(statement).scalar_one()


def case_number(district_code: str, season_code: str, seq: int) -> str:
    return f"{district_code}-{season_code}-{seq:04d}"


# --- opening ---------------------------------------------------------------------------------------------------------

def _links(session: Session, *, household_id, slip_number, supplier_id, batch_id) -> list[tuple[str, int, str]]:
    """(kind, id, label) of each thing named, looked up in the caller's scope; one not found is refused by its
    field (the form shows it beside the field; the API answers 422 naming it)."""
    found = []
    if household_id is not None:
        household = session.get(Household, household_id) if isinstance(household_id, int) else None
        if household is None:
            raise Refused("未找到该住户，或不在您的管辖范围内", field="household_id")
        found.append((CaseLinkKind.HOUSEHOLD, household.id, household.head_name[:64]))
    if slip_number:
        number = clean_text(slip_number, "slip_number", 32, label="销售单号").upper()
        slip = session.execute(select(Slip).where(Slip.number == number)).scalar_one_or_none()
        if slip is None:
            raise Refused("未找到该销售单，或不在您的管辖范围内", field="slip_number")
        found.append((CaseLinkKind.SLIP, slip.id, slip.number))
    if supplier_id is not None:
        supplier = session.get(Supplier, supplier_id) if isinstance(supplier_id, int) else None
        if supplier is None:
            raise Refused("未找到该配送企业", field="supplier_id")
        found.append((CaseLinkKind.SUPPLIER, supplier.id, supplier.name[:64]))
    if batch_id is not None:
        batch = session.get(Batch, batch_id) if isinstance(batch_id, int) else None
        if batch is None:
            raise Refused("未找到该进货批次", field="batch_id")
        found.append((CaseLinkKind.BATCH, batch.id, (batch.report_no or f"#{batch.id}")[:64]))
    return found


def _town_for(session: Session, user: User | None, town_id) -> int | None:
    if user is not None and user.role == Role.TOWN:
        if town_id is not None and town_id != user.town_id:
            raise Refused("街道/镇只能登记本街道/镇的案件", field="town_id")
        return user.town_id
    if town_id is None:
        return None  # the bureau handles it
    if not isinstance(town_id, int) or session.get(Town, town_id) is None:
        raise Refused("未找到该街道/镇", field="town_id")
    return town_id


def open_case(session: Session, user: User | None, *, channel: str, category: str, description: str,
              household_id: int | None = None, slip_number: str | None = None, supplier_id: int | None = None,
              batch_id: int | None = None, town_id: int | None = None, season_id: int | None = None,
              comment: str = "") -> Case:
    """Open a case in the active season (or `season_id`), numbered, with its deadline and its first event.
    `user` None is the system. A town's case is always its own town's; the bureau's `town_id` None keeps it."""
    _require_writer(user)
    channel = _choice(channel, CASE_CHANNEL_LABELS, "channel", "来源渠道")
    category = _choice(category, CASE_CATEGORY_LABELS, "category", "问题类别")
    description = clean_text(description, "description", DESCRIPTION_MAX, label="问题描述", required=True)
    comment = clean_text(comment, "comment", COMMENT_MAX, label="备注")
    links = _links(session, household_id=household_id, slip_number=slip_number, supplier_id=supplier_id,
                   batch_id=batch_id)
    assigned = _town_for(session, user, town_id)
    season = session.get(Season, season_id) if season_id is not None else active_season(session)
    if season is None:
        raise Refused("未找到该采暖季", field="season_id")
    district_code = session.execute(select(District.code).order_by(District.id).limit(1)).scalar_one_or_none() or "X"
    seq = _next_seq(session, season.id)
    case = Case(number=case_number(district_code, season.code, seq), season_id=season.id, seq=seq, channel=channel,
                category=category, description=description, town_id=assigned, status=CaseStatus.OPEN,
                deadline=deadline_for(session, season.id, category, clock.today()), opened_by=getattr(user, "id", None))
    session.add(case)
    session.flush()
    for kind, target_id, label in links:
        session.add(CaseLink(case_id=case.id, kind=kind, target_id=target_id, label=label))
    _event(session, case, user, "open", "", CaseStatus.OPEN, comment)
    audit.record(session, user, "case.opened", case)
    return case


# --- handling --------------------------------------------------------------------------------------------------------

def _move(session: Session, user: User | None, case_id: int, action: str, comment: str,
          **values) -> tuple[Case, dict]:
    """The step `action` with its event row; the case and its snapshot before, for the caller's audit entry (each
    caller names its action as a literal: tests/unit/test_audit_census.py reads them)."""
    _require_writer(user)
    case = get_or_404(session, Case, case_id)
    before = audit.snapshot(case)
    to = NEXT.get((action, CaseStatus(case.status)))
    if to is None:
        if action == "close" and case.status == CaseStatus.CLOSED:
            raise Conflict("该案件已办结", field="status")
        raise Conflict("该案件当前状态不能进行此操作", field="status")
    moved = session.execute(update(Case).where(Case.id == case.id, Case.status == case.status)
                            .values(status=to, **values).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该案件的状态已被他人改变，请刷新后再试", field="status")
    from_status = case.status
    session.refresh(case)
    _event(session, case, user, action, from_status, to, comment)
    return case, before


def accept(session: Session, user: User | None, case_id: int, *, comment: str = "") -> Case:
    """open → in_progress: the town or the bureau takes the case up."""
    comment = clean_text(comment, "comment", COMMENT_MAX, label="办理意见")
    case, before = _move(session, user, case_id, "accept", comment)
    audit.record(session, user, "case.accepted", case, before=before)
    return case


def close(session: Session, user: User | None, case_id: int, *, finding: str, outcome: str,
          comment: str = "") -> Case:
    """open or in_progress → closed with the finding (属实/部分属实/不属实) and the action taken (`outcome`).
    Closing a closed case is a Conflict (409)."""
    finding = _choice(finding, CASE_FINDING_LABELS, "finding", "核查结论")
    outcome = clean_text(outcome, "outcome", COMMENT_MAX, label="处理结果", required=True)
    comment = clean_text(comment, "comment", COMMENT_MAX, label="办理意见")
    case, before = _move(session, user, case_id, "close", comment or outcome, finding=finding, outcome=outcome,
                         closed_at=clock.now())
    audit.record(session, user, "case.closed", case, before=before)
    return case


def reopen(session: Session, user: User | None, case_id: int, *, comment: str) -> Case:
    """closed → in_progress again, with the reason; the finding of the earlier closing stays in the history."""
    comment = clean_text(comment, "comment", COMMENT_MAX, label="重新办理的原因", required=True)
    case, before = _move(session, user, case_id, "reopen", comment, finding="", outcome="", closed_at=None)
    audit.record(session, user, "case.reopened", case, before=before)
    return case


def note(session: Session, user: User | None, case_id: int, *, comment: str) -> Case:
    """A note in the case's history that changes nothing else (its status stays): what the bureau or the system
    learnt about it, such as an anomaly flag confirmed onto it or found linked to it. `user` None is the system."""
    _require_writer(user)
    comment = clean_text(comment, "comment", COMMENT_MAX, label="备注", required=True)
    case = get_or_404(session, Case, case_id)
    _event(session, case, user, "note", case.status, case.status, comment)
    audit.record(session, user, "case.noted", case, after={**audit.snapshot(case), "comment": comment})
    return case


def allowed_actions(user: User, case: Case) -> list[str]:
    """What the viewer may do to the case now (the detail page's buttons)."""
    if user.role not in WRITERS:
        return []
    return [action for (action, status) in NEXT if status == case.status]


# --- reading ---------------------------------------------------------------------------------------------------------

def view(session: Session, case_id: int) -> CaseView:
    """The case in the session's scope with its links and history (NotFound outside it)."""
    case = get_or_404(session, Case, case_id)
    links, history = links_of(session, [case.id])[case.id], histories(session, [case.id])[case.id]
    town = session.get(Town, case.town_id) if case.town_id else None
    return CaseView(case, links, history, town.name if town else "区发改局", is_overdue(case))


def _filters(*, status=None, category=None, town_id=None, overdue: bool = False) -> list:
    where = []
    if status:
        where.append(Case.status == _choice(status, CaseStatus, "status", "状态"))
    if category:
        where.append(Case.category == _choice(category, CaseCategory, "category", "问题类别"))
    if town_id == 0:
        where.append(Case.town_id.is_(None))  # the bureau's own
    elif town_id:
        where.append(Case.town_id == town_id)
    if overdue:
        where += [Case.status != CaseStatus.CLOSED, Case.deadline < clock.today()]
    return where


# The orders the list of cases may be read in (the primary key; (deadline, id)).
SORTS = {"id": Case.id, "deadline": Case.deadline}
DEFAULT_SORT = "-id"


def list_cases(session: Session, *, status: str | None = None, category: str | None = None,
               town_id: int | None = None, overdue: bool = False, season_id: int | None = None,
               sort: str | None = None, **page) -> paging.Page:
    """A page of the cases in the session's scope, newest first by default (paging.fetch's keyword arguments);
    `town_id` 0 is the bureau's own cases; `season_id` the season they were received in (every season when None).
    An unknown status or category is refused by its field."""
    where = _filters(status=status, category=category, town_id=town_id, overdue=overdue)
    if season_id is not None:
        where.append(Case.season_id == season_id)
    return paging.fetch(session, select(Case).where(*where), paging.Order.of(sort, SORTS, DEFAULT_SORT, Case.id),
                        **page)


def overdue_count(session: Session) -> int:
    """Cases in the session's scope past their deadline and not closed (the home pages flag them)."""
    return session.execute(select(func.count()).select_from(Case).where(*_filters(overdue=True))).scalar_one()


def histories(session: Session, case_ids: list[int]) -> dict[int, list[CaseEvent]]:
    """The events of several cases (a list page or the API's list), in one statement."""
    found: dict[int, list[CaseEvent]] = {i: [] for i in case_ids}
    if case_ids:
        for event in session.execute(select(CaseEvent).where(CaseEvent.case_id.in_(case_ids))
                                     .order_by(CaseEvent.at, CaseEvent.id)).scalars():
            found[event.case_id].append(event)
    return found


def links_of(session: Session, case_ids: list[int]) -> dict[int, list[CaseLink]]:
    found: dict[int, list[CaseLink]] = {i: [] for i in case_ids}
    if case_ids:
        for link in session.execute(select(CaseLink).where(CaseLink.case_id.in_(case_ids))
                                    .order_by(CaseLink.kind, CaseLink.id)).scalars():
            found[link.case_id].append(link)
    return found


def monthly_counts(session: Session, season_id: int) -> list[tuple[str, int, int]]:
    """(month "YYYY-MM" in China time, cases received, cases closed) of a season, months in order; a case is
    closed in the month of its latest closing. No personal data: counts only (for the public page). The months
    are read in Python from two timestamps a case: a season holds thousands of cases, not millions."""
    rows = session.execute(select(Case.created_at, Case.closed_at).where(Case.season_id == season_id)
                           .execution_options(unscoped=True)).all()
    received = Counter(clock.local(opened).strftime("%Y-%m") for opened, _ in rows)
    closed = Counter(clock.local(done).strftime("%Y-%m") for _, done in rows if done is not None)
    return [(month, received.get(month, 0), closed.get(month, 0)) for month in sorted(received | closed)]
