"""Monthly summaries and their review chain (DESIGN.md, "Workflows"; invariant 1): a supplier builds one summary
per town and month from its issued slips, seals and submits it, and the town, the DRC and finance approve it in turn
(`NEXT`), return it, or set a questioned slip aside.

Counting once, whatever the concurrency (invariant 1), rests on columns that are only ever set by a conditional
UPDATE:

- `slip.summary_id`: a slip joins a summary by `UPDATE slip SET summary_id = :s WHERE ... AND summary_id IS NULL`;
  two builds racing for the same slips split them, never share them. (No index covers the column, so that this
  UPDATE of a whole month rewrites no index entry: the slips of a summary are found by supplier, town and month,
  see `_in_summaries`.)
- `summary.status`: every step of the review is `UPDATE summary SET status = :to WHERE id = :id AND status = :from`;
  of two reviewers clicking at once, the second finds the status moved and gets a Conflict.

Totals (slip count, coal, stoves, amount, subsidy) are stored on the summary and recomputed from its ISSUED slips
whenever its slips change; a voided slip may stay linked to a summary until the supplier rebuilds it (it is
flagged for the reviewer) but never counts.

Set-aside slips: a reviewer takes a questioned slip out of a summary (`summary_id` back to NULL, with a reason and
`set_aside_at`). The slip then waits for its supplier, who either voids it or releases it (`release_slip`: the
question is answered). A released slip is picked up by the supplier's next build of any later month (and flagged
there as dated outside the month); a slip still set aside is picked up by no build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging, people
from subsidy.core.db import pg_branch
from subsidy.accounts import auth
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.models import (
    COPY_OF_OFFICE, Callback, CallbackSample, Contract, Role, Slip, SlipLine,
    SlipScan, SlipStatus, SUMMARY_STATUS_LABELS, Summary, SummaryEvent, SummaryStatus, Supplier, Town, User,
)
from subsidy.core.scope import get_or_404
from subsidy.rules.money import column_totals, yuan
from subsidy.rules.months import month_bounds, month_ended, parse_month
from subsidy.rules.text import clean_text


S = SummaryStatus

# The review chain (DESIGN.md): whose turn it is in each status, and where their approval takes the summary.
NEXT = {
    (S.SUBMITTED, Role.TOWN): S.TOWN_APPROVED,
    (S.TOWN_APPROVED, Role.DRC): S.DRC_APPROVED,
    (S.DRC_APPROVED, Role.FINANCE): S.FINANCE_APPROVED,
}
TURN = {status: role for (status, role) in NEXT}
REVIEWERS = frozenset(TURN.values())
EDITABLE = (S.DRAFT, S.RETURNED)  # the supplier may rebuild and submit these
# Every reviewer may approve a chosen set of its queue at once (each through `approve`).
BULK_ROLES = REVIEWERS
# Who may let a supplier submit a month before it has ended: the summary's first reviewer and the bureau.
EARLY_ALLOWERS = frozenset({Role.TOWN, Role.DRC})


# ----------------------------------------------------------------------------------------------- summaries


def _event(session: Session, summary: Summary, actor: User, action: str, from_status: str, to_status: str,
           comment: str = "") -> None:
    session.add(SummaryEvent(summary_id=summary.id, at=clock.now(), user_id=actor.id if actor else None,
                             role=actor.role if actor else "", action=action, from_status=from_status,
                             to_status=to_status, comment=comment))


TOTALS = (func.count(Slip.id), func.coalesce(func.sum(Slip.coal_kg), 0), func.coalesce(func.sum(Slip.stoves), 0),
          func.coalesce(func.sum(Slip.amount_fen), 0), func.coalesce(func.sum(Slip.subsidy_fen), 0))


@dataclass(frozen=True)
class Figures:
    """A summary's totals as a reviewer saw them; an approval carries them, so that nobody approves figures that
    changed after they opened the summary (DESIGN.md invariant 7)."""

    slip_count: int
    coal_kg: int
    stoves: int
    amount_fen: int
    subsidy_fen: int

    @classmethod
    def of(cls, summary: Summary) -> "Figures":
        return cls(summary.slip_count, summary.coal_kg, summary.stoves, summary.amount_fen, summary.subsidy_fen)

    def as_text(self) -> str:
        """For a page's hidden field: five whole numbers."""
        return ":".join(str(v) for v in (self.slip_count, self.coal_kg, self.stoves, self.amount_fen,
                                         self.subsidy_fen))

    @classmethod
    def parse(cls, text: str) -> "Figures":
        parts = (text or "").split(":")
        if len(parts) != 5 or not all(p.isdigit() and len(p) < 16 for p in parts):
            raise Refused("页面上的汇总数据缺失或已损坏，请刷新页面后重新审核", field="seen")
        return cls(*(int(p) for p in parts))

    def as_dict(self) -> dict[str, int]:
        return {"slip_count": self.slip_count, "coal_kg": self.coal_kg, "stoves": self.stoves,
                "amount_fen": self.amount_fen, "subsidy_fen": self.subsidy_fen}


def _in_summaries(supplier_id: int, month: str, summary_ids: list[int], town_id: int | None = None):
    """The slips of these summaries of one supplier and month, found by range: no index covers `slip.summary_id`
    (models/slips.py: so that building a month rewrites no index entry). A slip only ever joins a summary of its own
    town, dated in the summary's month, or dated earlier and released after being set aside (`set_aside_at` stays
    set): the two arms, each on an index of its own."""
    first, last = month_bounds(month)
    ids = Slip.summary_id.in_(summary_ids)
    in_month = [Slip.supplier_id == supplier_id, Slip.issued_on >= first, Slip.issued_on <= last, ids]
    if town_id is not None:
        in_month.insert(1, Slip.town_id == town_id)
    return or_(and_(*in_month), and_(Slip.supplier_id == supplier_id, Slip.set_aside_at.is_not(None), ids))


def standing_slip_ids(session: Session, summary: Summary) -> list[int]:
    """The ids of the summary's issued slips (what its totals count), ascending: the population a callback sample
    is drawn from (subsidy/verification/)."""
    return list(session.execute(
        select(Slip.id).where(_in_summaries(summary.supplier_id, summary.month, [summary.id], summary.town_id),
                              Slip.status == SlipStatus.ISSUED).order_by(Slip.id)
        .execution_options(unscoped=True)).scalars())


def recompute_totals(session: Session, summary: Summary) -> Summary:
    """Store the totals of the summary's issued slips on it (one aggregate over its town's slips of the month)."""
    row = session.execute(
        select(*TOTALS).where(_in_summaries(summary.supplier_id, summary.month, [summary.id], summary.town_id),
                              Slip.status == SlipStatus.ISSUED)
        .execution_options(unscoped=True)
    ).one()
    _set_totals(summary, [int(v) for v in row])
    session.flush()
    return summary


def _pickable(supplier_id: int, month: str) -> tuple[list, list]:
    """Slips a build of `month` may take: issued, in no summary, not set aside; dated in the month (first list), or
    dated earlier and released after being set aside (second list: a handful, on the partial set-aside index). Two
    conditions rather than one OR, so that each is a range on its own index whatever the planner."""
    first, last = month_bounds(month)
    free = [Slip.summary_id.is_(None), Slip.status == SlipStatus.ISSUED, Slip.set_aside_reason == ""]
    return ([Slip.supplier_id == supplier_id, Slip.issued_on >= first, Slip.issued_on <= last, *free],
            [Slip.supplier_id == supplier_id, Slip.set_aside_at.is_not(None), Slip.issued_on < first, *free])


def _require_supplier(clerk: User) -> int:
    if clerk.role != Role.SUPPLIER or clerk.supplier_id is None:
        raise NotAllowed("只有配送企业可以制作和提交销售汇总表")
    return clerk.supplier_id


def _lock_supplier(session: Session, supplier_id: int) -> None:
    """Builds (and settlements) of one supplier take turns: PostgreSQL's FOR NO KEY UPDATE on the supplier row, which
    does not block the key-share locks of slips being issued meanwhile; SQLite's write transactions are serial
    anyway. Invariant 1 does not rest on this lock (the conditional UPDATEs hold it alone): it spares the second of
    two clerks clicking at once a set of empty drafts to create and delete, and gives it the first one's drafts."""
    session.execute(select(Supplier.id).where(Supplier.id == supplier_id).with_for_update(key_share=True)
                    .execution_options(unscoped=True))


def _hand_over(session: Session, where: list, targets: dict[int, int]) -> dict[int, list[int]]:
    """ONE conditional UPDATE gives each slip matching `where` to its town's summary (`targets`: town → summary),
    only if it is still in no summary (invariant 1), and returns the totals of what moved, per summary, from the
    same pass: on PostgreSQL an UPDATE ... RETURNING inside a CTE aggregated by the server, on SQLite the returned
    rows summed here."""
    moving = (update(Slip).where(*where, Slip.town_id.in_(list(targets)))
              .values(summary_id=case(targets, value=Slip.town_id))
              .returning(Slip.summary_id, Slip.coal_kg, Slip.stoves, Slip.amount_fen, Slip.subsidy_fen))
    totals: dict[int, list[int]] = {}
    # DIALECT FORK (bench: scripts/bench_settlement.py): the server sums what moved; 200,000 rows not sent to Python
    if pg_branch(session.get_bind()):
        moved = moving.cte("moved")
        for summary_id, *values in session.execute(
                select(moved.c.summary_id, func.count(), func.sum(moved.c.coal_kg), func.sum(moved.c.stoves),
                       func.sum(moved.c.amount_fen), func.sum(moved.c.subsidy_fen))
                .group_by(moved.c.summary_id).execution_options(unscoped=True)):
            totals[summary_id] = [int(v) for v in values]
        return totals
    for summary_id, coal_kg, stoves, amount_fen, subsidy_fen in session.execute(
            moving.execution_options(synchronize_session=False)):
        t = totals.get(summary_id)
        if t is None:
            totals[summary_id] = [1, coal_kg, stoves, amount_fen, subsidy_fen]
        else:
            t[0] += 1
            t[1] += coal_kg
            t[2] += stoves
            t[3] += amount_fen
            t[4] += subsidy_fen
    return totals


def _take_slips(session: Session, supplier_id: int, month: str, targets: dict[int, int]) -> dict[int, list[int]]:
    """Hand the month's pickable slips to the summaries of their towns; totals of what moved, per summary."""
    in_month, released = _pickable(supplier_id, month)
    added = _hand_over(session, in_month, targets)
    for summary_id, values in _hand_over(session, released, targets).items():
        added[summary_id] = [a + b for a, b in zip(added.get(summary_id, [0] * 5), values)]
    return added


def build_summaries(session: Session, *, clerk: User, month: str) -> list[Summary]:
    """The supplier's draft summaries of `month`, one per town, from its issued slips not yet in any summary.

    A town that already has a draft or returned summary of the month gets that one rebuilt (voided slips leave it,
    new slips join) rather than a second one; a town whose summary was already submitted gets a new draft with the
    late slips. Returns the drafts touched (possibly none)."""
    supplier_id = _require_supplier(clerk)
    month = parse_month(month)
    season = seasons.active_season(session)
    _lock_supplier(session, supplier_id)
    in_month, released = _pickable(supplier_id, month)
    towns = set()
    for where in (in_month, released):
        towns.update(session.execute(select(Slip.town_id).where(*where).distinct()
                                     .execution_options(unscoped=True)).scalars())
    open_ones = {s.town_id: s for s in session.execute(
        select(Summary).where(Summary.supplier_id == supplier_id, Summary.month == month,
                              Summary.status.in_(EDITABLE)).order_by(Summary.id)
        .execution_options(unscoped=True)).scalars()}
    # One summary per town: the open one of the month, or a new draft. Then one conditional UPDATE hands each
    # pickable slip to its town's summary (a single pass over the month's slips, however many towns) and sums them.
    targets: dict[int, Summary] = {}
    created: set[int] = set()
    before = {}
    for town_id in sorted(towns | set(open_ones)):
        summary = open_ones.get(town_id)
        if summary is None:
            summary = Summary(supplier_id=supplier_id, town_id=town_id, season_id=season.id, month=month,
                              created_by=clerk.id, created_at=clock.now())
            session.add(summary)
            session.flush()
            created.add(summary.id)
        else:
            before[summary.id] = audit.snapshot(summary)
        targets[town_id] = summary
    dropped = {s.id: _drop_voided(session, s) for s in targets.values() if s.id not in created}
    added = _take_slips(session, supplier_id, month, {t: s.id for t, s in targets.items()}) if targets else {}
    touched = []
    for summary in targets.values():
        if summary.id in created:
            if not added.get(summary.id):
                # A concurrent build took these slips first: this draft was never seen by anyone, so it is not kept.
                session.delete(summary)
                session.flush()
                continue
            _set_totals(summary, added[summary.id])
            _event(session, summary, clerk, "build", "", S.DRAFT)
            audit.record(session, clerk, "summary.built", summary)
        else:
            count_before = summary.slip_count
            # Its stored totals may predate a void: counted again from its slips (one town, one month).
            recompute_totals(session, summary)
            _event(session, summary, clerk, "rebuild", summary.status, summary.status,
                   f"移出作废销售单{dropped[summary.id]}张，现有销售单{summary.slip_count}张（原{count_before}张）")
            audit.record(session, clerk, "summary.rebuilt", summary, before=before[summary.id])
        touched.append(summary)
    return touched


def _set_totals(summary: Summary, values: list[int]) -> None:
    summary.slip_count, summary.coal_kg, summary.stoves, summary.amount_fen, summary.subsidy_fen = values


def _drop_voided(session: Session, summary: Summary) -> int:
    return session.execute(
        update(Slip).where(_in_summaries(summary.supplier_id, summary.month, [summary.id], summary.town_id),
                           Slip.status == SlipStatus.VOIDED)
        .values(summary_id=None).execution_options(synchronize_session=False)).rowcount


def _rebuild(session: Session, clerk: User, summary: Summary) -> Summary:
    before = audit.snapshot(summary)
    _lock_supplier(session, summary.supplier_id)
    dropped = _drop_voided(session, summary)
    added = _take_slips(session, summary.supplier_id, summary.month, {summary.town_id: summary.id})
    recompute_totals(session, summary)
    _event(session, summary, clerk, "rebuild", summary.status, summary.status,
           f"移出作废销售单{dropped}张，新增销售单{added.get(summary.id, [0])[0]}张")
    audit.record(session, clerk, "summary.rebuilt", summary, before=before)
    return summary


def rebuild(session: Session, *, clerk: User, summary_id: int) -> Summary:
    """Rebuild one draft or returned summary: voided slips leave, the month's new slips of its town join."""
    _require_supplier(clerk)
    summary = get_or_404(session, Summary, summary_id)
    if summary.status not in EDITABLE:
        raise Conflict("只有草稿或已退回的汇总表可以重新生成")
    return _rebuild(session, clerk, summary)


def _move(session: Session, summary: Summary, expected: str, to: str, figures: Figures | None = None) -> None:
    """The one way a summary's status changes: conditional on the status the caller saw, and for an approval on the
    figures too, in the same statement: a void that changes them while the approval waits for the row makes the
    approval find nothing to move (PostgreSQL re-reads the row after the lock) rather than pass stale figures."""
    where = [Summary.id == summary.id, Summary.status == expected]
    if figures is not None:
        where += [Summary.slip_count == figures.slip_count, Summary.coal_kg == figures.coal_kg,
                  Summary.stoves == figures.stoves, Summary.amount_fen == figures.amount_fen,
                  Summary.subsidy_fen == figures.subsidy_fen]
    moved = session.execute(update(Summary).where(*where).values(status=to)
                            .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        session.refresh(summary)
        if summary.status == expected and figures is not None:
            _refuse_changed(summary)
        raise Conflict("该汇总表的状态已被他人改变，请刷新后再试", field="status")
    summary.status = to


def _refuse_changed(summary: Summary) -> None:
    now = Figures.of(summary)
    raise Conflict(f"该汇总表的数据在您打开之后发生了变化（现为 {now.slip_count} 张销售单、补贴 "
                   f"{yuan(now.subsidy_fen)} 元），请核对新的数据后重新审核",
                   field="seen", current=now.as_dict())


def submit(session: Session, *, clerk: User, summary_id: int, password: str | None) -> Summary:
    """The supplier's seal: confirmed with the clerk's own password on the page (`password`); the API passes None,
    because there the bearer token, itself obtained with the password, is the seal."""
    _require_supplier(clerk)
    summary = get_or_404(session, Summary, summary_id)
    if password is not None:
        me = session.execute(select(User).where(User.id == clerk.id).execution_options(unscoped=True)).scalar_one()
        if not password or not auth.verify_password(me.password_hash, password):
            raise Refused("密码不正确，未加盖电子印章", field="password")
    if summary.status not in EDITABLE:
        raise Conflict("该汇总表已提交，不能重复提交", field="status")
    if awaits_month_end(summary):
        first_day_after = month_bounds(summary.month)[1] + timedelta(days=1)
        raise Refused(f"{summary.month} 尚未结束，{first_day_after.month}月{first_day_after.day}日起方可提交；"
                      "如需提前提交，请街道/镇或区发改局在本汇总表上同意提前提交", field="status")
    before = audit.snapshot(summary)
    _drop_voided(session, summary)
    recompute_totals(session, summary)
    if summary.slip_count == 0:
        raise Refused("汇总表中没有有效的销售单，不能提交")
    from_status = summary.status
    _move(session, summary, from_status, S.SUBMITTED)
    _event(session, summary, clerk, "submit", from_status, S.SUBMITTED, "企业电子印章确认")
    audit.record(session, clerk, "summary.submitted", summary, before=before)
    return summary


def awaits_month_end(summary: Summary) -> bool:
    """Whether the summary may not be submitted yet: its month has not ended (China time) and no reviewer allowed an
    early submission. A month's sales are complete only when the month is over; a town that closes early (a holiday,
    the season's end) says so explicitly, with `allow_early`."""
    return not month_ended(summary.month, clock.today()) and summary.early_allowed_at is None


def allow_early(session: Session, *, reviewer: User, summary_id: int) -> Summary:
    """The summary's town, or the bureau, lets the supplier submit it before its month ends. Set once (asking again
    changes nothing); only on a summary the supplier may still submit, of a month that has not ended."""
    if Role(reviewer.role) not in EARLY_ALLOWERS:
        raise NotAllowed("只有街道/镇或区发改局可以同意提前提交")
    summary = get_or_404(session, Summary, summary_id)
    if summary.early_allowed_at is not None:
        return summary
    if summary.status not in EDITABLE:
        raise Conflict("该汇总表已提交，无需同意提前提交", field="status")
    if month_ended(summary.month, clock.today()):
        raise Refused(f"{summary.month} 已结束，企业可以直接提交，无需同意提前提交", field="status")
    before = audit.snapshot(summary)
    summary.early_allowed_by, summary.early_allowed_at = reviewer.id, clock.now()
    session.flush()
    _event(session, summary, reviewer, "allow_early", summary.status, summary.status, "同意月末前提前提交")
    audit.record(session, reviewer, "summary.early_allowed", summary, before=before)
    return summary


def early_allowed_by(session: Session, summary: Summary) -> str | None:
    """Who allowed the summary's early submission (their name), or None."""
    if summary.early_allowed_by is None:
        return None
    row = session.execute(select(User.display_name, User.username).where(User.id == summary.early_allowed_by)
                          .execution_options(unscoped=True)).first()
    return (row.display_name or row.username) if row else ""


def _reviewer_turn(reviewer: User, summary: Summary) -> None:
    role = Role(reviewer.role)
    if role not in REVIEWERS:
        raise NotAllowed("您的角色不参与汇总表审核")
    if TURN.get(summary.status) != role:
        raise NotAllowed("现在不是您审核该汇总表的环节")


def approve(session: Session, *, reviewer: User, summary_id: int, comment: str = "",
            seen: Figures | None = None) -> Summary:
    """One step up the chain, by the reviewer whose turn it is (a town only sees its own towns' summaries), for the
    figures the reviewer saw (`seen`; the API may leave them out, and then approves the figures as they stand)."""
    comment = clean_text(comment, "comment", 500, label="审核意见")
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    if seen is not None and seen != Figures.of(summary):
        _refuse_changed(summary)
    before = audit.snapshot(summary)
    from_status = summary.status
    to = NEXT[(from_status, Role(reviewer.role))]
    _move(session, summary, from_status, to, seen or Figures.of(summary))
    if to == S.DRC_APPROVED:
        # After the move, which holds the summary's row: a sample drawn meanwhile locked the same row first, and
        # this statement sees it (a rollback undoes the move).
        _refuse_open_callbacks(session, summary)
    _event(session, summary, reviewer, "approve", from_status, to, comment)
    audit.record(session, reviewer, "summary.approved", summary, before=before)
    return summary


def _refuse_open_callbacks(session: Session, summary: Summary) -> None:
    """The bureau approves a summary only once every slip its callback sample drew has a finished callback
    (subsidy/verification/: reached, or unreached after three tries; `callback.done`). Read through the tables:
    verification imports this module, not the other way round."""
    sample = session.execute(select(CallbackSample.id, CallbackSample.size)
                             .where(CallbackSample.summary_id == summary.id).execution_options(unscoped=True)).first()
    if sample is None:
        return
    done = session.execute(select(func.count()).select_from(Callback)
                           .where(Callback.sample_id == sample.id, Callback.done)
                           .execution_options(unscoped=True)).scalar_one()
    if done < sample.size:
        raise Conflict(f"该汇总表的回访抽查尚未完成（抽取 {sample.size} 户，已回访 {done} 户），"
                       "全部回访记录后方可审核通过", field="sample")



@dataclass
class Chosen:
    """A chosen set of summaries sorted out for one reviewer: those it is their turn to approve (with the totals of
    those alone, what the confirmation shows), and the others, each with the reason it will not be approved."""
    approvable: list[Summary]
    refused: list[tuple[int, Summary | None, str]]  # (summary id, the summary if in scope, why)

    @property
    def totals(self) -> dict[str, int]:
        return column_totals(self.approvable, "slip_count", "coal_kg", "stoves", "amount_fen", "subsidy_fen")


@dataclass
class BatchResult:
    approved: list[Summary]
    refused: list[tuple[int, Summary | None, str]] = field(default_factory=list)  # always empty: all or none


class SetNotApproved(Conflict):
    """A chosen set of which at least one summary cannot be approved: none of the set was. `refused` names each of
    those (summary id, the summary if in scope, why); `details` is the same for the API's 409 answer."""

    def __init__(self, refused: list[tuple[int, Summary | None, str]]):
        super().__init__("所选汇总表中有不能审核通过的，整批均未审核（请取消勾选这些后重新提交）："
                         + "；".join(f"{number_of(i)} {why}" for i, _, why in refused), field="ids")
        self.refused = refused
        self.details = {"refused": [{"id": i, "number": number_of(i), "reason": why} for i, _, why in refused]}


def number_of(summary_id: int) -> str:
    """A summary's number as lists and sheets show it."""
    return f"HZ-{summary_id:06d}"


def choose(session: Session, *, reviewer: User, summary_ids: list[int]) -> Chosen:
    """Sort a chosen set (in the order chosen, each once) into those the reviewer may approve now and the others:
    out of scope or missing, or not at the reviewer's step of the chain."""
    if Role(reviewer.role) not in BULK_ROLES:
        raise NotAllowed("您的角色不参与汇总表审核")
    ids = list(dict.fromkeys(summary_ids))
    if not ids:
        raise Refused("请勾选要审核的汇总表", field="ids")
    found = {s.id: s for s in session.execute(select(Summary).where(Summary.id.in_(ids))).scalars()}
    chosen = Chosen([], [])
    for summary_id in ids:
        summary = found.get(summary_id)
        if summary is None:
            chosen.refused.append((summary_id, None, "不存在或不在您的管辖范围内"))
        elif TURN.get(summary.status) != reviewer.role:
            chosen.refused.append((summary_id, summary, f"状态为“{SUMMARY_STATUS_LABELS.get(summary.status, summary.status)}”，"
                                                        "现在不是您审核的环节"))
        else:
            chosen.approvable.append(summary)
    return chosen


def approve_many(session: Session, *, reviewer: User, summary_ids: list[int], comment: str = "",
                 seen: dict[int, Figures] | None = None) -> BatchResult:
    """Approve the chosen summaries, all or none, each through `approve` for the figures the list showed (`seen`, by
    summary id), in the caller's one transaction. If any cannot be approved (missing or out of scope, not at the
    reviewer's step, its figures changed since the list, its callback sample unfinished), SetNotApproved names every
    such one and why, and the caller's transaction, rolled back, keeps none of the others' approvals: each is still
    tried, so that one answer names them all, not only the first."""
    chosen = choose(session, reviewer=reviewer, summary_ids=summary_ids)
    seen = seen or {}
    refused = list(chosen.refused)
    approved = []
    for summary in chosen.approvable:
        # Domain refusals only: they are raised before any statement fails, so the transaction is still usable for
        # the next summary (and is rolled back as a whole below). A database error propagates as it is.
        try:
            approved.append(approve(session, reviewer=reviewer, summary_id=summary.id, comment=comment,
                                    seen=seen.get(summary.id)))
        except (Refused, Conflict, NotAllowed, NotFound) as error:
            refused.append((summary.id, summary, error.message))
    if refused:
        order = {i: n for n, i in enumerate(dict.fromkeys(summary_ids))}
        raise SetNotApproved(sorted(refused, key=lambda r: order.get(r[0], 0)))
    return BatchResult(approved)


def return_summary(session: Session, *, reviewer: User, summary_id: int, reason: str) -> Summary:
    """Back to the supplier with a reason, by the reviewer whose turn it is."""
    reason = clean_text(reason, "reason", 500, label="退回原因")
    if not reason:
        raise Refused("退回时请填写原因", field="reason")
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    before = audit.snapshot(summary)
    from_status = summary.status
    _move(session, summary, from_status, S.RETURNED)
    _event(session, summary, reviewer, "return", from_status, S.RETURNED, reason)
    audit.record(session, reviewer, "summary.returned", summary, before=before,
                 after={**audit.snapshot(summary), "reason": reason})
    return summary


def set_aside(session: Session, *, reviewer: User, summary_id: int, slip_id: int, reason: str) -> Summary:
    """Take one questioned slip out of the summary; the rest goes on. The slip goes back to its supplier."""
    reason = clean_text(reason, "reason", 200, label="剔除原因")
    if not reason:
        raise Refused("剔除销售单时请填写原因", field="reason")
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    return take_out(session, actor=reviewer, summary=summary, slip_id=slip_id, reason=reason)


def lock_in_status(session: Session, summary: Summary, statuses=None) -> None:
    """Lock the summary row against a concurrent approval (or a concurrent writer of the same kind) while the caller
    changes what hangs on it; Conflict when its status moved meanwhile, or is not one of `statuses`."""
    allowed = [summary.status] if statuses is None else list(statuses)
    moved = session.execute(update(Summary).where(Summary.id == summary.id, Summary.status.in_(allowed))
                            .values(status=Summary.status).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该汇总表的状态已被他人改变，请刷新后再试", field="status")
    session.refresh(summary)


def take_out(session: Session, *, actor: User, summary: Summary, slip_id: int, reason: str) -> Summary:
    """The set-aside itself, for a caller that has decided it may (a reviewer in turn, or a callback's
    discrepancy, subsidy/verification/): the slip leaves the summary with `reason`, the totals follow."""
    lock_in_status(session, summary)
    before = audit.snapshot(summary)
    taken = session.execute(
        update(Slip).where(Slip.id == slip_id, Slip.supplier_id == summary.supplier_id, Slip.summary_id == summary.id)
        .values(summary_id=None, set_aside_reason=reason, set_aside_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise NotFound("该销售单不在此汇总表中")
    recompute_totals(session, summary)
    number = session.execute(select(Slip.number).where(Slip.id == slip_id).execution_options(unscoped=True)).scalar()
    _event(session, summary, actor, "set_aside", summary.status, summary.status, f"剔除销售单{number}：{reason}")
    audit.record(session, actor, "summary.slip_set_aside", summary, before=before,
                 after={**audit.snapshot(summary), "slip": number, "reason": reason})
    return summary


def release_slip(session: Session, *, clerk: User, slip_id: int) -> Slip:
    """The supplier answered the question on a set-aside slip: it may join a later month's summary."""
    _require_supplier(clerk)
    slip = get_or_404(session, Slip, slip_id)
    if slip.set_aside_at is None or not slip.set_aside_reason:
        raise Conflict("该销售单未被剔除")
    if slip.status != SlipStatus.ISSUED:
        raise Conflict("该销售单已作废")
    before = audit.snapshot(slip)
    slip.set_aside_reason = ""
    session.flush()
    audit.record(session, clerk, "slip.released", slip, before=before)
    return slip


def set_aside_slips(session: Session) -> list[Slip]:
    """Slips in scope waiting for their supplier's answer."""
    return list(session.execute(select(Slip).where(Slip.set_aside_at.is_not(None), Slip.summary_id.is_(None),
                                                   Slip.set_aside_reason != "")
                                .order_by(Slip.id)).scalars())


# ----------------------------------------------------------------------------------------------- reading


# The orders the list of summaries may be read in (indexes (month, id), (town_id, month, id), (supplier_id, month, id)).
SORTS = {"month": Summary.month, "id": Summary.id}
DEFAULT_SORT = "-month"


def list_summaries(session: Session, *, month: str | None = None, status: str | None = None,
                   season_id: int | None = None, sort: str | None = None, **page) -> paging.Page:
    """A page of the summaries in scope (paging.fetch's keyword arguments), newest month first by default, of one
    season (`season_id`; every season when None)."""
    query = select(Summary)
    if season_id is not None:
        query = query.where(Summary.season_id == season_id)
    if month:
        query = query.where(Summary.month == parse_month(month))
    if status:
        if status not in set(SummaryStatus):
            raise Refused("状态无效", field="status")
        query = query.where(Summary.status == status)
    return paging.fetch(session, query, paging.Order.of(sort, SORTS, DEFAULT_SORT, Summary.id), **page)


def queue(session: Session, user: User) -> list[Summary]:
    """What waits for this reviewer: the summaries in the status where it is their turn (in scope)."""
    statuses = [status for status, role in TURN.items() if role == user.role]
    if user.role == Role.SUPPLIER:
        statuses = list(EDITABLE)
    if not statuses:
        return []
    return list(session.execute(select(Summary).where(Summary.status.in_(statuses))
                                .order_by(Summary.month, Summary.id).limit(500)).scalars())


def history(session: Session, summary_id: int) -> list[SummaryEvent]:
    get_or_404(session, Summary, summary_id)
    return list(session.execute(select(SummaryEvent).where(SummaryEvent.summary_id == summary_id)
                                .order_by(SummaryEvent.id)).scalars())


def history_with_names(session: Session, summary_id: int) -> list[tuple[SummaryEvent, people.Person]]:
    """Each review step with the person who took it, beside their unit (subsidy/core/people.py)."""
    events = history(session, summary_id)
    who = people.people(session, [e.user_id for e in events])
    return [(e, who.get(e.user_id, people.SYSTEM if e.user_id is None else people.UNKNOWN)) for e in events]


@dataclass
class FlaggedSlip:
    slip: Slip
    flags: list[str] = field(default_factory=list)


def slips_with_flags(session: Session, summary: Summary, viewer: User) -> list[FlaggedSlip]:
    """The summary's slips, each with what needs a look: this office has not scanned its copy, voided, dated
    outside the month, a price off contract."""
    slips = list(session.execute(
        select(Slip).where(_in_summaries(summary.supplier_id, summary.month, [summary.id], summary.town_id))
        .order_by(Slip.issued_on, Slip.id).execution_options(unscoped=True)).scalars())
    ids = [s.id for s in slips]
    copy_no = COPY_OF_OFFICE.get(Role(viewer.role)) if viewer.role in ("town", "drc", "finance") else None
    scanned: set[int] = set()
    off_price: set[int] = set()
    if ids:
        if copy_no:
            scanned = set(session.execute(select(SlipScan.slip_id).where(SlipScan.copy_no == copy_no,
                                                                         SlipScan.slip_id.in_(ids))).scalars())
        off_price = set(session.execute(
            select(SlipLine.slip_id).join(Slip, Slip.id == SlipLine.slip_id)
            .outerjoin(Contract, and_(Contract.supplier_id == Slip.supplier_id, Contract.town_id == Slip.town_id,
                                      Contract.season_id == Slip.season_id, Contract.product == SlipLine.product))
            .where(SlipLine.slip_id.in_(ids),
                   or_(Contract.id.is_(None), Contract.price_fen != SlipLine.unit_price_fen))
            .execution_options(unscoped=True)).scalars())
    first, last = month_bounds(summary.month)
    result = []
    for slip in slips:
        flags = []
        if copy_no and slip.id not in scanned:
            flags.append(UNSCANNED)
        if slip.status == SlipStatus.VOIDED:
            flags.append("已作废")
        if not (first <= slip.issued_on <= last):
            flags.append("不在本月")
        if slip.id in off_price:
            flags.append("单价与合同不符")
        result.append(FlaggedSlip(slip, flags))
    return result


UNSCANNED = "本单位联未扫码"


def unscanned_copies(flagged: list[FlaggedSlip]) -> list[Slip]:
    """The standing slips of `slips_with_flags` whose copy the viewer's office has not scanned: what an approval must
    name and have confirmed (the office approves money for slips whose paper it does not hold)."""
    return [f.slip for f in flagged if UNSCANNED in f.flags and f.slip.status == SlipStatus.ISSUED]


def names(session: Session) -> tuple[dict[int, str], dict[int, Supplier]]:
    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())
    suppliers = {s.id: s for s in session.execute(select(Supplier).execution_options(unscoped=True)).scalars()}
    return towns, suppliers


