"""What waits for each role on its home page. Every count runs in the user's scoped session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.accounts import throttle
from subsidy.core import clock
from subsidy.models import (
    Batch, Case, CaseStatus, Household, Notice, Registration, RegistrationStatus, Role, Settlement, SettlementStatus, Slip, SlipScan,
    SlipStatus, Summary, SummaryStatus, User,
)
from subsidy.models.enums import COPY_OF_OFFICE
from subsidy.oversight import anomalies, cases
from subsidy.policy.seasons import active_season_or_none
from subsidy.quality import inspections


@dataclass
class Waiting:
    label: str
    count: int
    link: str
    urgent: bool = False


def _count(session: Session, query) -> int:
    return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def waiting_for(session: Session, user: User) -> list[Waiting]:
    season = active_season_or_none(session)
    role = Role(user.role)
    items: list[Waiting] = []
    if season is not None and role in (Role.VILLAGE, Role.TOWN):
        registrations = select(Registration.id).where(Registration.season_id == season.id)
        if role == Role.VILLAGE:
            items.append(Waiting("已登记、待公示的购买登记", _count(session, registrations.where(
                Registration.status == RegistrationStatus.REGISTERED)), "/registrations?status=registered"))
            items.append(Waiting("本村登记住户", _count(session, select(Household.id)), "/households"))
        else:
            due = registrations.join(Notice, Notice.id == Registration.notice_id).where(
                Registration.status == RegistrationStatus.NOTICED, Notice.ends_on <= clock.today())
            items.append(Waiting("公示期满、待审核的购买登记", _count(session, due), "/registrations?status=noticed",
                                 urgent=True))
    if role == Role.SUPPLIER:
        items.append(Waiting("待提交或被退回的月度汇总", _count(session, select(Summary.id).where(
            Summary.status.in_([SummaryStatus.DRAFT, SummaryStatus.RETURNED]))), "/summaries", urgent=True))
        items.append(Waiting("可销售的合格批次", _count(session, select(Batch.id).where(
            Batch.passed.is_(True), Batch.frozen_at.is_(None), Batch.sold_kg < Batch.quantity_kg)), "/batches"))
        if season is not None:
            items.append(Waiting("本季已开销售单", _count(session, select(Slip.id).where(
                Slip.season_id == season.id, Slip.status == SlipStatus.ISSUED)), "/slips"))
    turn = {Role.TOWN: SummaryStatus.SUBMITTED, Role.DRC: SummaryStatus.TOWN_APPROVED,
            Role.FINANCE: SummaryStatus.DRC_APPROVED}
    if role in turn:
        items.append(Waiting("待我审核的月度汇总", _count(session, select(Summary.id).where(
            Summary.status == turn[role])), f"/summaries?status={turn[role]}", urgent=True))
        copy = COPY_OF_OFFICE[role]
        unscanned = select(Slip.id).where(Slip.status == SlipStatus.ISSUED, ~select(SlipScan.id).where(
            SlipScan.slip_id == Slip.id, SlipScan.copy_no == copy).exists())
        items.append(Waiting("本单位尚未扫码登记的销售单联", _count(session, unscanned), "/scans/missing"))
    if role in (Role.TOWN, Role.DRC, Role.FINANCE, Role.AUDITOR):
        # Every role that sees cases (finance and the auditor read them) is shown the overdue ones of its scope.
        items.append(Waiting("逾期未办结的投诉举报案件", cases.overdue_count(session), "/cases?overdue=1", urgent=True))
    if role in (Role.TOWN, Role.DRC):
        items.append(Waiting("待受理的投诉举报案件", _count(session, select(Case.id).where(
            Case.status == CaseStatus.OPEN)), "/cases?status=open"))
    if role == Role.DRC:
        items.append(Waiting("待核查的异常预警", anomalies.open_count(session), "/anomalies?status=open", urgent=True))
    if role == Role.DRC and season is not None:
        # Seed 002: every failed seller re-tested; one without a passed re-test in time may be suspended.
        overdue = {r.supplier.id for r in inspections.overdue(session, season.id)}
        items.append(Waiting("抽检不合格、逾期未复检合格的配送企业", len(overdue), "/quality#retests", urgent=True))
        items.append(Waiting("待复检的进货批次", inspections.awaiting_count(session, season.id),
                             "/quality/retests"))
    if role == Role.FINANCE:
        items.append(Waiting("待结算的月度汇总", _count(session, select(Summary.id).where(
            Summary.status == SummaryStatus.FINANCE_APPROVED, Summary.settlement_id.is_(None))), "/settlements",
            urgent=True))
        items.append(Waiting("已结算、待支付的结算单", _count(session, select(Settlement.id).where(
            Settlement.status == SettlementStatus.SETTLED)), "/settlements?status=settled", urgent=True))
    if role == Role.ADMIN:
        items.append(Waiting("用户", _count(session, select(User.id)), "/admin/users"))
        items.append(Waiting("被锁定的用户", _count(session, select(User.id).where(
            throttle.locked_somewhere(clock.now()))), "/admin/users", urgent=True))
    if role == Role.AUDITOR:
        items.append(Waiting("本季销售单", _count(session, select(Slip.id)), "/slips"))
    return items
