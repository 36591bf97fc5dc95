"""Monthly summaries, the review chain town → DRC → finance, settlements and payments (DESIGN.md, "Workflows";
invariants 1, 3 and 4).

Counting once, whatever the concurrency (invariant 1), rests on three columns that are only ever set by a
conditional UPDATE:

- `slip.summary_id`: a slip joins a summary by `UPDATE slip SET summary_id = :s WHERE ... AND summary_id IS NULL`;
  two builds racing for the same slips split them, never share them.
- `summary.status`: every step of the review is `UPDATE summary SET status = :to WHERE id = :id AND status = :from`;
  of two reviewers clicking at once, the second finds the status moved and gets a Conflict.
- `summary.settlement_id` and `settlement.status`: a summary joins a statement `WHERE settlement_id IS NULL`, a
  statement is paid `WHERE status = 'settled'`; the statement itself is unique per supplier and month.

Totals (slip count, coal, stoves, amount, subsidy) are stored on the summary and recomputed from its ISSUED slips
whenever its slips change; a voided slip may stay linked to a summary until the supplier rebuilds it (it is
flagged for the reviewer) but never counts. A statement's totals are summed from the slips themselves, so its
subsidy is the sum of its slips' subsidies by construction (invariant 3).

Set-aside slips: a reviewer takes a questioned slip out of a summary (`summary_id` back to NULL, with a reason and
`set_aside_at`). The slip then waits for its supplier, who either voids it or releases it (`release_slip`: the
question is answered). A released slip is picked up by the supplier's next build of any later month (and flagged
there as dated outside the month); a slip still set aside is picked up by no build.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy import audit, auth, clock, seasons
from subsidy.errors import Conflict, NotAllowed, NotFound, SubsidyError
from subsidy.models import (
    COPY_OF_OFFICE, Contract, Role, Settlement, SettlementFund, SettlementStatus, SettlementTown, Slip, SlipLine,
    SlipScan, SlipStatus, Summary, SummaryEvent, SummaryStatus, Supplier, Town, User,
)
from subsidy.money import split_largest_remainder
from subsidy.scope import get_or_404

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
BULK_ROLES = frozenset({Role.DRC, Role.FINANCE})


# ----------------------------------------------------------------------------------------------- months


def parse_month(text: str) -> str:
    """'YYYY-MM' (also accepts 'YYYY-M'), normalised; SubsidyError otherwise."""
    text = (text or "").strip()
    try:
        year, month = (int(part) for part in text.split("-"))
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError
    except ValueError:
        raise SubsidyError("月份格式应为“年-月”，如 2026-11", field="month") from None
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last (China) day of a 'YYYY-MM' month; slips carry their China date in `issued_on`."""
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def statement_number(supplier_code: str, month: str) -> str:
    return f"JS-{supplier_code.upper()}-{month.replace('-', '')}"[:32]


# ----------------------------------------------------------------------------------------------- summaries


def _event(session: Session, summary: Summary, actor: User, action: str, from_status: str, to_status: str,
           comment: str = "") -> None:
    session.add(SummaryEvent(summary_id=summary.id, at=clock.now(), user_id=actor.id if actor else None,
                             role=actor.role if actor else "", action=action, from_status=from_status,
                             to_status=to_status, comment=comment))


def _counted(summary_id: int):
    return and_(Slip.summary_id == summary_id, Slip.status == SlipStatus.ISSUED)


def recompute_totals(session: Session, summary: Summary) -> Summary:
    """Store the totals of the summary's issued slips on it (one aggregate on the slip index)."""
    row = session.execute(
        select(func.count(Slip.id), func.coalesce(func.sum(Slip.coal_kg), 0), func.coalesce(func.sum(Slip.stoves), 0),
               func.coalesce(func.sum(Slip.amount_fen), 0), func.coalesce(func.sum(Slip.subsidy_fen), 0))
        .where(Slip.supplier_id == summary.supplier_id, _counted(summary.id))
        .execution_options(unscoped=True)
    ).one()
    summary.slip_count, summary.coal_kg, summary.stoves, summary.amount_fen, summary.subsidy_fen = (int(v) for v in row)
    session.flush()
    return summary


def _pickable(supplier_id: int, month: str):
    """Slips a build of `month` may take: issued, in no summary, not set aside; dated in the month, or released
    after being set aside from an earlier month. Written as one range on the (supplier, summary, day) index."""
    first, last = month_bounds(month)
    return and_(
        Slip.supplier_id == supplier_id, Slip.summary_id.is_(None), Slip.issued_on <= last,
        Slip.status == SlipStatus.ISSUED, Slip.set_aside_reason == "",
        or_(Slip.issued_on >= first, Slip.set_aside_at.is_not(None)),
    )


def _require_supplier(clerk: User) -> int:
    if clerk.role != Role.SUPPLIER or clerk.supplier_id is None:
        raise NotAllowed("只有配送企业可以制作和提交销售汇总表")
    return clerk.supplier_id


def build_summaries(session: Session, *, clerk: User, month: str) -> list[Summary]:
    """The supplier's draft summaries of `month`, one per town, from its issued slips not yet in any summary.

    A town that already has a draft or returned summary of the month gets that one rebuilt (voided slips leave it,
    new slips join) rather than a second one; a town whose summary was already submitted gets a new draft with the
    late slips. Returns the drafts touched (possibly none)."""
    supplier_id = _require_supplier(clerk)
    month = parse_month(month)
    season = seasons.active_season(session)
    towns = [row[0] for row in session.execute(
        select(Slip.town_id).where(_pickable(supplier_id, month)).group_by(Slip.town_id).order_by(Slip.town_id)
        .execution_options(unscoped=True))]
    open_ones = {s.town_id: s for s in session.execute(
        select(Summary).where(Summary.supplier_id == supplier_id, Summary.month == month,
                              Summary.status.in_(EDITABLE)).order_by(Summary.id)
        .execution_options(unscoped=True)).scalars()}
    # One summary per town: the open one of the month, or a new draft. Then ONE conditional UPDATE hands each
    # pickable slip to its town's summary (a single pass over the month's slips, however many towns).
    targets: dict[int, Summary] = {}
    created: set[int] = set()
    before = {}
    for town_id in sorted(set(towns) | set(open_ones)):
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
    dropped = {sid: _drop_voided(session, targets_by_id) for sid, targets_by_id in
               ((s.id, s) for s in targets.values() if s.id not in created)}
    added: dict[int, list[int]] = {}
    if targets:
        session.execute(
            update(Slip).where(_pickable(supplier_id, month), Slip.town_id.in_(list(targets)))
            .values(summary_id=case({t: s.id for t, s in targets.items()}, value=Slip.town_id))
            .execution_options(synchronize_session=False))
        # The totals of every touched summary in one GROUP BY (on the supplier/summary index).
        for summary_id, *values in session.execute(
                select(Slip.summary_id, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves),
                       func.sum(Slip.amount_fen), func.sum(Slip.subsidy_fen))
                .where(Slip.supplier_id == supplier_id, Slip.summary_id.in_([s.id for s in targets.values()]),
                       Slip.status == SlipStatus.ISSUED)
                .group_by(Slip.summary_id).execution_options(unscoped=True)):
            added[summary_id] = [int(v or 0) for v in values]
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
            _set_totals(summary, added.get(summary.id, [0, 0, 0, 0, 0]))
            _event(session, summary, clerk, "rebuild", summary.status, summary.status,
                   f"移出作废销售单{dropped[summary.id]}张，现有销售单{summary.slip_count}张（原{count_before}张）")
            audit.record(session, clerk, "summary.rebuilt", summary, before=before[summary.id])
        touched.append(summary)
    return touched


def _set_totals(summary: Summary, values: list[int]) -> None:
    summary.slip_count, summary.coal_kg, summary.stoves, summary.amount_fen, summary.subsidy_fen = values


def _take_slips(session: Session, summary: Summary) -> int:
    """Link the pickable slips of the summary's town to it; only slips still in no summary move (invariant 1)."""
    result = session.execute(
        update(Slip).where(_pickable(summary.supplier_id, summary.month), Slip.town_id == summary.town_id)
        .values(summary_id=summary.id).execution_options(synchronize_session=False))
    return result.rowcount


def _drop_voided(session: Session, summary: Summary) -> int:
    return session.execute(
        update(Slip).where(Slip.supplier_id == summary.supplier_id, Slip.summary_id == summary.id,
                           Slip.status == SlipStatus.VOIDED)
        .values(summary_id=None).execution_options(synchronize_session=False)).rowcount


def _rebuild(session: Session, clerk: User, summary: Summary) -> Summary:
    before = audit.snapshot(summary)
    dropped = _drop_voided(session, summary)
    added = _take_slips(session, summary)
    recompute_totals(session, summary)
    _event(session, summary, clerk, "rebuild", summary.status, summary.status,
           f"移出作废销售单{dropped}张，新增销售单{added}张")
    audit.record(session, clerk, "summary.rebuilt", summary, before=before)
    return summary


def rebuild(session: Session, *, clerk: User, summary_id: int) -> Summary:
    """Rebuild one draft or returned summary: voided slips leave, the month's new slips of its town join."""
    _require_supplier(clerk)
    summary = get_or_404(session, Summary, summary_id)
    if summary.status not in EDITABLE:
        raise Conflict("只有草稿或已退回的汇总表可以重新生成")
    return _rebuild(session, clerk, summary)


def _move(session: Session, summary: Summary, expected: str, to: str) -> None:
    """The one way a summary's status changes: conditional on the status the caller saw."""
    moved = session.execute(update(Summary).where(Summary.id == summary.id, Summary.status == expected)
                            .values(status=to).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该汇总表的状态已被他人改变，请刷新后再试", field="status")
    summary.status = to


def submit(session: Session, *, clerk: User, summary_id: int, password: str | None) -> Summary:
    """The supplier's seal: confirmed with the clerk's own password on the page (`password`); the API passes None,
    because there the bearer token, itself obtained with the password, is the seal."""
    _require_supplier(clerk)
    summary = get_or_404(session, Summary, summary_id)
    if password is not None:
        me = session.execute(select(User).where(User.id == clerk.id).execution_options(unscoped=True)).scalar_one()
        if not password or not auth.verify_password(me.password_hash, password):
            raise SubsidyError("密码不正确，未加盖电子印章", field="password")
    if summary.status not in EDITABLE:
        raise Conflict("该汇总表已提交，不能重复提交", field="status")
    before = audit.snapshot(summary)
    _drop_voided(session, summary)
    recompute_totals(session, summary)
    if summary.slip_count == 0:
        raise SubsidyError("汇总表中没有有效的销售单，不能提交")
    from_status = summary.status
    _move(session, summary, from_status, S.SUBMITTED)
    _event(session, summary, clerk, "submit", from_status, S.SUBMITTED, "企业电子印章确认")
    audit.record(session, clerk, "summary.submitted", summary, before=before)
    return summary


def _reviewer_turn(reviewer: User, summary: Summary) -> None:
    role = Role(reviewer.role)
    if role not in REVIEWERS:
        raise NotAllowed("您的角色不参与汇总表审核")
    if TURN.get(summary.status) != role:
        raise NotAllowed("现在不是您审核该汇总表的环节")


def approve(session: Session, *, reviewer: User, summary_id: int, comment: str = "") -> Summary:
    """One step up the chain, by the reviewer whose turn it is (a town only sees its own towns' summaries)."""
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    before = audit.snapshot(summary)
    from_status = summary.status
    to = NEXT[(from_status, Role(reviewer.role))]
    _move(session, summary, from_status, to)
    _event(session, summary, reviewer, "approve", from_status, to, comment.strip()[:500])
    audit.record(session, reviewer, "summary.approved", summary, before=before)
    return summary


def approve_many(session: Session, *, reviewer: User, summary_ids: list[int], comment: str = "") -> list[Summary]:
    """Bulk approval for the bureau and finance: all of them, or none (one transaction)."""
    if Role(reviewer.role) not in BULK_ROLES:
        raise NotAllowed("只有区发改局和区财政局可以批量审核")
    if not summary_ids:
        raise SubsidyError("请选择要审核的汇总表", field="ids")
    return [approve(session, reviewer=reviewer, summary_id=i, comment=comment) for i in dict.fromkeys(summary_ids)]


def return_summary(session: Session, *, reviewer: User, summary_id: int, reason: str) -> Summary:
    """Back to the supplier with a reason, by the reviewer whose turn it is."""
    reason = (reason or "").strip()
    if not reason:
        raise SubsidyError("退回时请填写原因", field="reason")
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    before = audit.snapshot(summary)
    from_status = summary.status
    _move(session, summary, from_status, S.RETURNED)
    _event(session, summary, reviewer, "return", from_status, S.RETURNED, reason[:500])
    audit.record(session, reviewer, "summary.returned", summary, before=before)
    return summary


def set_aside(session: Session, *, reviewer: User, summary_id: int, slip_id: int, reason: str) -> Summary:
    """Take one questioned slip out of the summary; the rest goes on. The slip goes back to its supplier."""
    reason = (reason or "").strip()
    if not reason:
        raise SubsidyError("剔除销售单时请填写原因", field="reason")
    summary = get_or_404(session, Summary, summary_id)
    _reviewer_turn(reviewer, summary)
    # Lock the summary row against a concurrent approval while its slips change.
    moved = session.execute(update(Summary).where(Summary.id == summary.id, Summary.status == summary.status)
                            .values(status=summary.status)).rowcount
    if moved != 1:
        raise Conflict("该汇总表的状态已被他人改变，请刷新后再试")
    before = audit.snapshot(summary)
    taken = session.execute(
        update(Slip).where(Slip.id == slip_id, Slip.supplier_id == summary.supplier_id, Slip.summary_id == summary.id)
        .values(summary_id=None, set_aside_reason=reason[:200], set_aside_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise NotFound("该销售单不在此汇总表中")
    recompute_totals(session, summary)
    number = session.execute(select(Slip.number).where(Slip.id == slip_id).execution_options(unscoped=True)).scalar()
    _event(session, summary, reviewer, "set_aside", summary.status, summary.status, f"剔除销售单{number}：{reason}")
    audit.record(session, reviewer, "summary.slip_set_aside", summary, before=before, )
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
    return list(session.execute(select(Slip).where(Slip.summary_id.is_(None), Slip.set_aside_reason != "")
                                .order_by(Slip.id)).scalars())


# ----------------------------------------------------------------------------------------------- reading


def list_summaries(session: Session, *, month: str | None = None, status: str | None = None,
                   page: int = 1, per_page: int = 50) -> list[Summary]:
    query = select(Summary)
    if month:
        query = query.where(Summary.month == parse_month(month))
    if status:
        query = query.where(Summary.status == status)
    query = query.order_by(Summary.month.desc(), Summary.id.desc()).offset((max(page, 1) - 1) * per_page) \
        .limit(per_page)
    return list(session.execute(query).scalars())


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


def history_with_names(session: Session, summary_id: int) -> list[tuple[SummaryEvent, str]]:
    events = history(session, summary_id)
    ids = {e.user_id for e in events if e.user_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))
                                 .execution_options(unscoped=True)).all()) if ids else {}
    return [(e, names.get(e.user_id, "")) for e in events]


@dataclass
class FlaggedSlip:
    slip: Slip
    flags: list[str] = field(default_factory=list)


def slips_with_flags(session: Session, summary: Summary, viewer: User) -> list[FlaggedSlip]:
    """The summary's slips, each with what needs a look: this office has not scanned its copy, voided, dated
    outside the month, a price off contract."""
    slips = list(session.execute(
        select(Slip).where(Slip.supplier_id == summary.supplier_id, Slip.summary_id == summary.id)
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
            flags.append("本单位联未扫码")
        if slip.status == SlipStatus.VOIDED:
            flags.append("已作废")
        if not (first <= slip.issued_on <= last):
            flags.append("不在本月")
        if slip.id in off_price:
            flags.append("单价与合同不符")
        result.append(FlaggedSlip(slip, flags))
    return result


def names(session: Session) -> tuple[dict[int, str], dict[int, Supplier]]:
    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())
    suppliers = {s.id: s for s in session.execute(select(Supplier).execution_options(unscoped=True)).scalars()}
    return towns, suppliers


# ----------------------------------------------------------------------------------------------- settlement


def _require_finance(officer: User) -> None:
    if officer.role != Role.FINANCE:
        raise NotAllowed("只有区财政局可以结算和支付")


def settle(session: Session, *, officer: User, supplier_id: int, month: str) -> tuple[Settlement, bool]:
    """One statement for a supplier and month from its finance-approved summaries. Returns (statement, created):
    asking again, or at the same moment as another officer, gives the same statement (unique supplier+month)."""
    _require_finance(officer)
    month = parse_month(month)
    supplier = get_or_404(session, Supplier, supplier_id)
    existing = _statement_of(session, supplier.id, month)
    if existing is not None:
        return existing, False
    ready = list(session.execute(
        select(Summary.id, Summary.season_id).where(
            Summary.supplier_id == supplier.id, Summary.month == month, Summary.status == S.FINANCE_APPROVED,
            Summary.settlement_id.is_(None))).all())
    if not ready:
        raise SubsidyError(f"{supplier.name}在{month}没有财政局已审核、待结算的汇总表")
    statement = Settlement(number=statement_number(supplier.code, month), supplier_id=supplier.id,
                           season_id=ready[0].season_id, month=month, created_by=officer.id, created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(statement)
            session.flush()
    except IntegrityError:
        # Another officer settled the same supplier and month a moment ago (the unique key waited for them).
        existing = _statement_of(session, supplier.id, month)
        if existing is None:
            raise
        return existing, False
    taken = session.execute(
        update(Summary).where(Summary.id.in_([r.id for r in ready]), Summary.status == S.FINANCE_APPROVED,
                              Summary.settlement_id.is_(None))
        .values(settlement_id=statement.id).execution_options(synchronize_session=False)).rowcount
    if taken == 0:
        raise Conflict("这些汇总表已被他人同时结算，请刷新后查看")
    # Per town, straight from the slips of the settled summaries: the statement's subsidy IS the slips' sum.
    per_town = session.execute(
        select(Slip.town_id, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves),
               func.sum(Slip.amount_fen), func.sum(Slip.subsidy_fen))
        .join(Summary, Summary.id == Slip.summary_id)
        .where(Summary.settlement_id == statement.id, Slip.supplier_id == supplier.id,
               Slip.status == SlipStatus.ISSUED)
        .group_by(Slip.town_id).order_by(Slip.town_id).execution_options(unscoped=True)).all()
    totals = [0, 0, 0, 0, 0]
    for town_id, count, coal, stoves, amount, subsidy in per_town:
        values = [int(count), int(coal or 0), int(stoves or 0), int(amount or 0), int(subsidy or 0)]
        session.add(SettlementTown(settlement_id=statement.id, town_id=town_id, slip_count=values[0],
                                   coal_kg=values[1], stoves=values[2], amount_fen=values[3], subsidy_fen=values[4]))
        totals = [a + b for a, b in zip(totals, values)]
    (statement.slip_count, statement.coal_kg, statement.stoves, statement.amount_fen,
     statement.subsidy_fen) = totals
    funds = seasons.funds_of(session, statement.season_id)
    if not funds:
        raise SubsidyError("该采暖季未设置资金来源比例，无法结算")
    parts = split_largest_remainder(statement.subsidy_fen, [f.share_bp for f in funds])
    for fund, part in zip(funds, parts):
        session.add(SettlementFund(settlement_id=statement.id, fund=fund.fund, name=fund.name, share_bp=fund.share_bp,
                                   subsidy_fen=part))
    session.flush()
    audit.record(session, officer, "settlement.settled", statement)
    return statement, True


def _statement_of(session: Session, supplier_id: int, month: str) -> Settlement | None:
    return session.execute(select(Settlement).where(Settlement.supplier_id == supplier_id, Settlement.month == month)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def pay(session: Session, *, officer: User, settlement_id: int, reference: str, paid_on: date | None) -> Settlement:
    """Record the bank payment of a statement, once: a second payment (even at the same moment) is a Conflict."""
    _require_finance(officer)
    reference = (reference or "").strip()
    errors = {}
    if not reference:
        errors["reference"] = "请填写支付凭证号"
    if paid_on is None:
        errors["paid_on"] = "请填写支付日期"
    elif paid_on > clock.today():
        errors["paid_on"] = "支付日期不能晚于今天"
    if errors:
        raise SubsidyError(next(iter(errors.values())), errors=errors)
    statement = get_or_404(session, Settlement, settlement_id)
    before = audit.snapshot(statement)
    moved = session.execute(
        update(Settlement).where(Settlement.id == statement.id, Settlement.status == SettlementStatus.SETTLED)
        .values(status=SettlementStatus.PAID, payment_reference=reference[:64], paid_on=paid_on,
                paid_at=clock.now(), paid_by=officer.id).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该结算单已支付，不能重复支付", field="status")
    session.refresh(statement)
    audit.record(session, officer, "settlement.paid", statement, before=before)
    return statement


def list_settlements(session: Session, *, month: str | None = None, status: str | None = None, page: int = 1,
                     per_page: int = 50) -> list[Settlement]:
    query = select(Settlement)
    if status:
        query = query.where(Settlement.status == status)
    if month:
        query = query.where(Settlement.month == parse_month(month))
    return list(session.execute(query.order_by(Settlement.month.desc(), Settlement.id.desc())
                                .offset((max(page, 1) - 1) * per_page).limit(per_page)).scalars())


def statement_lines(session: Session, settlement_id: int) -> tuple[list[SettlementTown], list[SettlementFund]]:
    get_or_404(session, Settlement, settlement_id)
    towns = list(session.execute(select(SettlementTown).where(SettlementTown.settlement_id == settlement_id)
                                 .order_by(SettlementTown.town_id)).scalars())
    funds = list(session.execute(select(SettlementFund).where(SettlementFund.settlement_id == settlement_id)
                                 .order_by(SettlementFund.id)).scalars())
    return towns, funds


def ready_to_settle(session: Session) -> list[tuple[int, str, int, int]]:
    """(supplier_id, month, summaries, subsidy) of finance-approved summaries not yet in a statement."""
    return [tuple(r) for r in session.execute(
        select(Summary.supplier_id, Summary.month, func.count(Summary.id), func.sum(Summary.subsidy_fen))
        .where(Summary.status == S.FINANCE_APPROVED, Summary.settlement_id.is_(None))
        .group_by(Summary.supplier_id, Summary.month).order_by(Summary.month, Summary.supplier_id)).all()]


def summaries_of_statement(session: Session, settlement_id: int) -> list[Summary]:
    return list(session.execute(select(Summary).where(Summary.settlement_id == settlement_id)
                                .order_by(Summary.town_id)).scalars())
