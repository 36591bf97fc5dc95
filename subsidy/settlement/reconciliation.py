"""The monthly reconciliation (对账): a month's statements settled, paid, failed and outstanding, in total and by
fund, to the fen, each statement checked against the slips it was made from (invariant 3: a statement's subsidy is
the sum of its slips' subsidies, so every difference shown must be 0; one that is not is a finding)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.models import Settlement, SettlementFund, SettlementStatus, Slip, SlipStatus, Summary, Supplier
from subsidy.rules.months import parse_month
from subsidy.settlement.summaries import _in_summaries

PAID, FAILED = SettlementStatus.PAID, SettlementStatus.PAYMENT_FAILED


@dataclass
class Amounts:
    """Subsidy in fen by where its statements stand; settled = paid + failed + outstanding."""

    settled: int = 0
    paid: int = 0
    failed: int = 0
    outstanding: int = 0

    def add(self, status: str, fen: int) -> None:
        self.settled += fen
        if status == PAID:
            self.paid += fen
        elif status == FAILED:
            self.failed += fen
        else:
            self.outstanding += fen


@dataclass
class StatementLine:
    id: int
    number: str
    supplier: str
    status: str
    subsidy_fen: int
    slips_fen: int

    @property
    def difference_fen(self) -> int:
        return self.subsidy_fen - self.slips_fen


@dataclass
class Reconciliation:
    month: str
    total: Amounts = field(default_factory=Amounts)
    counts: Amounts = field(default_factory=Amounts)  # the same, counting statements
    funds: list[tuple[str, str, Amounts]] = field(default_factory=list)  # (fund, name, amounts)
    statements: list[StatementLine] = field(default_factory=list)

    @property
    def slips_fen(self) -> int:
        return sum(s.slips_fen for s in self.statements)

    @property
    def difference_fen(self) -> int:
        return self.total.settled - self.slips_fen

    @property
    def balanced(self) -> bool:
        return all(s.difference_fen == 0 for s in self.statements) and all(
            a.settled == a.paid + a.failed + a.outstanding for _, _, a in self.funds) and (
            sum(a.settled for _, _, a in self.funds) == self.total.settled or not self.funds)


def month_reconciliation(session: Session, month: str) -> Reconciliation:
    month = parse_month(month)
    result = Reconciliation(month)
    rows = session.execute(select(Settlement, Supplier.name).join(Supplier, Supplier.id == Settlement.supplier_id)
                           .where(Settlement.month == month).order_by(Settlement.supplier_id, Settlement.seq)).all()
    for statement, supplier in rows:
        summary_ids = list(session.execute(select(Summary.id).where(Summary.settlement_id == statement.id)).scalars())
        slips = session.execute(select(func.coalesce(func.sum(Slip.subsidy_fen), 0)).where(
            _in_summaries(statement.supplier_id, month, summary_ids), Slip.status == SlipStatus.ISSUED)
            .execution_options(unscoped=True)).scalar_one() if summary_ids else 0
        result.statements.append(StatementLine(statement.id, statement.number, supplier, statement.status,
                                               statement.subsidy_fen, int(slips)))
        result.total.add(statement.status, statement.subsidy_fen)
        result.counts.add(statement.status, 1)
    funds: dict[str, tuple[str, str, Amounts]] = {}
    for fund, name, status, fen in session.execute(
            select(SettlementFund.fund, SettlementFund.name, Settlement.status, func.sum(SettlementFund.subsidy_fen))
            .join(Settlement, Settlement.id == SettlementFund.settlement_id).where(Settlement.month == month)
            .group_by(SettlementFund.fund, SettlementFund.name, Settlement.status)
            .order_by(SettlementFund.fund)):
        funds.setdefault(fund, (fund, name, Amounts()))[2].add(status, int(fen or 0))
    result.funds = list(funds.values())
    return result


def months_with_statements(session: Session) -> list[str]:
    return list(session.execute(select(Settlement.month).distinct().order_by(Settlement.month.desc())).scalars())
