"""Settlement statements and their payment (DESIGN.md, "Workflows"; invariants 1, 3 and 4): finance turns a
supplier's finance-approved summaries of a month into one statement, split per town and per fund, and records the
payment against it.

- `summary.settlement_id` and `settlement.status` are only set by conditional UPDATEs: a summary joins a statement
  `WHERE settlement_id IS NULL`, a statement is paid `WHERE status = 'settled'`, so two officers at once neither
  settle a summary twice nor pay a statement twice.
- A statement is unique per supplier, month and sequence number and never changes once made: a summary approved
  after its month was settled goes into a supplementary statement (-2, -3, ...), never into one already made.
- A statement's totals are summed from the slips themselves, so its subsidy is the sum of its slips' subsidies by
  construction (invariant 3); the split between funds uses the largest remainder, so the parts add up to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.models import (
    Payment, PaymentStatus, Role, Settlement, SettlementFund, SettlementStatus, SettlementTown, Slip, SlipStatus, Summary, Supplier, User,
)
from subsidy.rules.money import split_largest_remainder
from subsidy.core.scope import get_or_404
from subsidy.rules.months import parse_month
from subsidy.rules.text import clean_text_into
from subsidy.settlement.summaries import S, TOTALS, _in_summaries, _lock_supplier


def statement_number(supplier_code: str, month: str, seq: int = 1) -> str:
    """JS-<supplier>-<yyyymm>, and -2, -3, ... for the month's supplementary statements; a long supplier code is cut
    short rather than the month or the sequence (the column holds 32 characters)."""
    tail = f"-{month.replace('-', '')}" + (f"-{seq}" if seq > 1 else "")
    return f"JS-{supplier_code.upper()}"[:32 - len(tail)] + tail


# ----------------------------------------------------------------------------------------------- settlement


def _require_finance(officer: User) -> None:
    if officer.role != Role.FINANCE:
        raise NotAllowed("只有区财政局可以结算和支付")


def settle(session: Session, *, officer: User, supplier_id: int, month: str) -> tuple[Settlement, bool]:
    """A statement for a supplier and month from its finance-approved summaries not yet in one. Returns (statement,
    created): asking again, or at the same moment as another officer, gives the same statement.

    A statement is never changed once made (it may already be exported, sent to the bank or paid; invariant 4): a
    summary approved by finance after its month was settled waits in the queue for a supplementary statement of the
    same supplier and month (`seq` 2, 3, ...; number suffixed -2, -3), made the same way. So each summary is in
    exactly one statement, and each statement's subsidy is the sum of its own slips (invariants 1 and 3)."""
    _require_finance(officer)
    month = parse_month(month)
    supplier = get_or_404(session, Supplier, supplier_id)
    # Officers settling the same supplier take turns, so the second one sees the first one's statement and the
    # summaries it took; the unique (supplier, month, seq) and the conditional UPDATE below hold without it.
    _lock_supplier(session, supplier.id)
    ready = list(session.execute(
        select(Summary.id, Summary.season_id).where(
            Summary.supplier_id == supplier.id, Summary.month == month, Summary.status == S.FINANCE_APPROVED,
            Summary.settlement_id.is_(None)).order_by(Summary.id)).all())
    latest = _latest_statement(session, supplier.id, month)
    if not ready:
        if latest is not None:
            return latest, False
        raise Refused(f"{supplier.name}在{month}没有财政局已审核、待结算的汇总表")
    seq = latest.seq + 1 if latest is not None else 1
    statement = Settlement(number=statement_number(supplier.code, month, seq), supplier_id=supplier.id, seq=seq,
                           season_id=ready[0].season_id, month=month, created_by=officer.id, created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(statement)
            session.flush()
    except IntegrityError:
        # Another officer made this statement a moment ago (the unique key waited for them).
        existing = _latest_statement(session, supplier.id, month)
        if existing is None or existing.seq < seq:
            raise
        return existing, False
    summary_ids = [r.id for r in ready]
    taken = session.execute(
        update(Summary).where(Summary.id.in_(summary_ids), Summary.status == S.FINANCE_APPROVED,
                              Summary.settlement_id.is_(None))
        .values(settlement_id=statement.id).execution_options(synchronize_session=False)).rowcount
    if taken != len(summary_ids):
        raise Conflict("这些汇总表已被他人同时结算，请刷新后查看")
    # Per town, straight from the slips of the settled summaries: the statement's subsidy IS the slips' sum.
    per_town = session.execute(
        select(Slip.town_id, *TOTALS)
        .where(_in_summaries(supplier.id, month, summary_ids), Slip.status == SlipStatus.ISSUED)
        .group_by(Slip.town_id).order_by(Slip.town_id).execution_options(unscoped=True)).all()
    totals = [0, 0, 0, 0, 0]
    for town_id, *row in per_town:
        values = [int(v) for v in row]
        session.add(SettlementTown(settlement_id=statement.id, town_id=town_id, slip_count=values[0],
                                   coal_kg=values[1], stoves=values[2], amount_fen=values[3], subsidy_fen=values[4]))
        totals = [a + b for a, b in zip(totals, values)]
    (statement.slip_count, statement.coal_kg, statement.stoves, statement.amount_fen,
     statement.subsidy_fen) = totals
    funds = seasons.funds_of(session, statement.season_id)
    if not funds:
        raise Refused("该采暖季未设置资金来源比例，无法结算")
    parts = split_largest_remainder(statement.subsidy_fen, [f.share_bp for f in funds])
    for fund, part in zip(funds, parts):
        session.add(SettlementFund(settlement_id=statement.id, fund=fund.fund, name=fund.name, share_bp=fund.share_bp,
                                   subsidy_fen=part))
    session.flush()
    audit.record(session, officer, "settlement.settled", statement)
    return statement, True


def _latest_statement(session: Session, supplier_id: int, month: str) -> Settlement | None:
    return session.execute(select(Settlement).where(Settlement.supplier_id == supplier_id, Settlement.month == month)
                           .order_by(Settlement.seq.desc()).limit(1)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def statements_of_month(session: Session, supplier_id: int, month: str) -> list[Settlement]:
    """The supplier's statements of the month: the first, then its supplementary ones."""
    return list(session.execute(select(Settlement).where(Settlement.supplier_id == supplier_id,
                                                         Settlement.month == month)
                                .order_by(Settlement.seq)).scalars())


def earlier_statements(session: Session, summary: Summary) -> list[Settlement]:
    """Where the money of a summary approved by finance but not yet settled stands: the month's statements made before
    it, which it will not join (a statement, once made, takes no more summaries): it waits for a supplementary one.
    Empty for any other summary."""
    if summary.status != S.FINANCE_APPROVED or summary.settlement_id is not None:
        return []
    return statements_of_month(session, summary.supplier_id, summary.month)


def pay(session: Session, *, officer: User, settlement_id: int, reference: str, paid_on: date | None) -> Settlement:
    """Record the bank payment of a statement, once: a second payment (even at the same moment) is a Conflict."""
    _require_finance(officer)
    errors: dict[str, str] = {}
    reference = clean_text_into(errors, reference, "reference", 64, label="支付凭证号", required=True)
    if paid_on is None:
        errors["paid_on"] = "请填写支付日期"
    elif paid_on > clock.today():
        errors["paid_on"] = "支付日期不能晚于今天"
    if errors:
        raise Refused(next(iter(errors.values())), errors=errors)
    statement = get_or_404(session, Settlement, settlement_id)
    before = audit.snapshot(statement)
    if statement.subsidy_fen > 0:
        # A payment made outside the system is a payment too: the live-instruction index (subsidy/settlement/
        # payments.py) refuses it while the statement is with the bank, and refuses a second one after it.
        try:
            with session.begin_nested():
                session.add(Payment(settlement_id=statement.id, attempt=next_attempt(session, statement.id),
                                    amount_fen=statement.subsidy_fen, payee_name="", account="", bank="",
                                    purpose="", status=PaymentStatus.PAID, bank_reference=reference[:64],
                                    result_on=paid_on, decided_by=officer.id, decided_at=clock.now()))
                session.flush()
        except IntegrityError as error:
            live = session.execute(select(Payment.status).where(Payment.settlement_id == statement.id,
                                                                Payment.status != PaymentStatus.FAILED)).scalar()
            if live == PaymentStatus.SENT:
                raise Conflict("该结算单已发送银行支付，请导入银行结果文件", field="status") from error
            raise Conflict("该结算单已支付，不能重复支付", field="status") from error
    moved = session.execute(
        update(Settlement).where(Settlement.id == statement.id, Settlement.status == SettlementStatus.SETTLED)
        .values(status=SettlementStatus.PAID, payment_reference=reference[:64], paid_on=paid_on,
                paid_at=clock.now(), paid_by=officer.id).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该结算单已支付，不能重复支付", field="status")
    session.refresh(statement)
    audit.record(session, officer, "settlement.paid", statement, before=before)
    return statement


def next_attempt(session: Session, settlement_id: int) -> int:
    return 1 + int(session.execute(select(func.coalesce(func.max(Payment.attempt), 0))
                                   .where(Payment.settlement_id == settlement_id)).scalar_one())


SORTS = {"month": Settlement.month, "id": Settlement.id}  # indexes (month, id) and (supplier_id, month, id)
DEFAULT_SORT = "-month"


def list_settlements(session: Session, *, month: str | None = None, status: str | None = None,
                     sort: str | None = None, **page) -> paging.Page:
    """A page of the statements in scope (paging.fetch's keyword arguments), newest month first by default."""
    query = select(Settlement)
    if status:
        if status not in set(SettlementStatus):
            raise Refused("状态无效", field="status")
        query = query.where(Settlement.status == status)
    if month:
        query = query.where(Settlement.month == parse_month(month))
    return paging.fetch(session, query, paging.Order.of(sort, SORTS, DEFAULT_SORT, Settlement.id), **page)


def statement_lines(session: Session, settlement_id: int) -> tuple[list[SettlementTown], list[SettlementFund]]:
    get_or_404(session, Settlement, settlement_id)
    towns = list(session.execute(select(SettlementTown).where(SettlementTown.settlement_id == settlement_id)
                                 .order_by(SettlementTown.town_id)).scalars())
    funds = list(session.execute(select(SettlementFund).where(SettlementFund.settlement_id == settlement_id)
                                 .order_by(SettlementFund.id)).scalars())
    return towns, funds


@dataclass
class Ready:
    """Finance-approved summaries of a supplier and month not yet in a statement, and the month's statements made
    before them (if any, settling makes a supplementary statement)."""
    supplier_id: int
    month: str
    summaries: int
    subsidy_fen: int
    statements: list[Settlement] = field(default_factory=list)

    @property
    def supplementary(self) -> bool:
        return bool(self.statements)


def ready_to_settle(session: Session, *, supplier_id: int | None = None, month: str | None = None) -> list[Ready]:
    """What waits for finance to settle (of one supplier and month if given), oldest month first."""
    query = (select(Summary.supplier_id, Summary.month, func.count(Summary.id), func.sum(Summary.subsidy_fen))
             .where(Summary.status == S.FINANCE_APPROVED, Summary.settlement_id.is_(None))
             .group_by(Summary.supplier_id, Summary.month).order_by(Summary.month, Summary.supplier_id))
    if supplier_id is not None:
        query = query.where(Summary.supplier_id == supplier_id)
    if month is not None:
        query = query.where(Summary.month == month)
    ready = [Ready(supplier_id, month, int(count), int(subsidy or 0))
             for supplier_id, month, count, subsidy in session.execute(query)]
    if ready:
        keys = {(r.supplier_id, r.month) for r in ready}
        earlier: dict[tuple[int, str], list[Settlement]] = {}
        for statement in session.execute(
                select(Settlement).where(Settlement.supplier_id.in_({k[0] for k in keys}),
                                         Settlement.month.in_({k[1] for k in keys}))
                .order_by(Settlement.seq)).scalars():
            earlier.setdefault((statement.supplier_id, statement.month), []).append(statement)
        for r in ready:
            r.statements = earlier.get((r.supplier_id, r.month), [])
    return ready


def summaries_of_statement(session: Session, settlement_id: int) -> list[Summary]:
    return list(session.execute(select(Summary).where(Summary.settlement_id == settlement_id)
                                .order_by(Summary.town_id)).scalars())
