"""Cases: each state change, each refusal, the town's scope, numbers unique under concurrency (PostgreSQL), and the
public page's monthly counts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from subsidy.core import db
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.core.scope import Scope
from subsidy.models import AuditEntry, Case, CaseEvent, CaseStatus, Household, Town, Village
from subsidy.oversight import cases
from tests.factories import sales as f


@pytest.fixture
def as_user(engine, demo):
    """`as_user("caiyuan")`: (a write session scoped to that demo user, the user); closed after the test."""
    opened = []

    def make(username):
        with db.new_session(engine) as plain:
            me = f.user(plain, username)
        s = db.new_session(engine, write=True, scope=Scope.of(me))
        opened.append(s)
        return s, me

    yield make
    for s in opened:
        s.rollback()
        s.close()


def _household_of(session, town_code):
    return session.execute(select(Household).join(Village, Village.id == Household.village_id)
                           .join(Town, Town.id == Village.town_id).where(Town.code == town_code)
                           .order_by(Household.id).limit(1)).scalar_one()


def test_a_case_walks_open_in_progress_closed_and_reopened_keeping_every_step(as_user):
    s, town = as_user("caiyuan")
    household = _household_of(s, "caiyuan")
    case = cases.open_case(s, town, channel="hotline", category="short_weight", description="  少给了两百斤  ",
                           household_id=household.id, comment="来电记录")
    s.commit()
    assert (case.status, case.town_id, case.description) == ("open", town.town_id, "少给了两百斤")
    assert case.number.startswith("TS-") and case.number.endswith("-0001")
    # The demo's policy sets no deadline for short weight: the default 7 days from the day it was opened.
    assert case.deadline == case.created_at.astimezone(timezone(timedelta(hours=8))).date() + timedelta(days=7)
    cases.accept(s, town, case.id, comment="已联系配送企业")
    s.commit()
    assert case.status == CaseStatus.IN_PROGRESS
    cases.close(s, town, case.id, finding="partly", outcome="企业补足煤量")
    s.commit()
    assert (case.status, case.finding, case.outcome) == ("closed", "partly", "企业补足煤量")
    assert case.closed_at is not None
    cases.reopen(s, town, case.id, comment="住户反映仍未补足")
    s.commit()
    assert (case.status, case.finding, case.closed_at) == ("in_progress", "", None)
    view = cases.view(s, case.id)
    assert [(e.action, e.from_status, e.to_status, e.username) for e in view.history] == [
        ("open", "", "open", "caiyuan"), ("accept", "open", "in_progress", "caiyuan"),
        ("close", "in_progress", "closed", "caiyuan"), ("reopen", "closed", "in_progress", "caiyuan")]
    assert view.history[2].comment == "企业补足煤量"
    assert [(link.kind, link.target_id) for link in view.links] == [("household", household.id)]
    actions = s.execute(select(AuditEntry.action).where(AuditEntry.entity == "oversight_case",
                                                         AuditEntry.entity_id == str(case.id))
                        .order_by(AuditEntry.id).execution_options(unscoped=True)).scalars().all()
    assert actions == ["case.opened", "case.accepted", "case.closed", "case.reopened"]


def test_closing_a_closed_case_is_a_conflict_and_changes_nothing(as_user):
    s, drc = as_user("drc")
    case = cases.open_case(s, drc, channel="online", category="price", description="价格高于合同价")
    cases.close(s, drc, case.id, finding="false", outcome="经核实价格符合合同")
    s.commit()
    with pytest.raises(Conflict):
        cases.close(s, drc, case.id, finding="true", outcome="再次办结")
    s.rollback()
    assert s.get(Case, case.id).finding == "false"
    assert s.execute(select(func.count()).where(CaseEvent.case_id == case.id)).scalar_one() == 2
    with pytest.raises(Conflict):
        cases.accept(s, drc, case.id)  # a closed case is reopened, not accepted


def test_a_town_cannot_see_or_touch_another_towns_case_nor_the_bureaus(as_user):
    s, drc = as_user("drc")
    daimiao = s.execute(select(Town).where(Town.code == "daimiao")).scalar_one()
    theirs = cases.open_case(s, drc, channel="walk_in", category="service", description="送煤人员态度差",
                             town_id=daimiao.id)
    bureau = cases.open_case(s, drc, channel="hotline", category="other", description="咨询补贴标准")
    s.commit()
    assert bureau.town_id is None
    t, caiyuan = as_user("caiyuan")
    for case_id in (theirs.id, bureau.id):
        with pytest.raises(NotFound):
            cases.view(t, case_id)
        with pytest.raises(NotFound):
            cases.close(t, caiyuan, case_id, finding="true", outcome="x")
    assert (cases.list_cases(t).items, cases.list_cases(t).total) == ([], 0)
    t.rollback()  # SQLite: one writer at a time
    d, daimiao_user = as_user("daimiao")
    assert [c.id for c in cases.list_cases(d).items] == [theirs.id]
    cases.accept(d, daimiao_user, theirs.id, comment="已受理")


def test_a_town_may_not_open_a_case_for_another_town_nor_link_its_households(as_user):
    s, town = as_user("caiyuan")
    with db.new_session(s.get_bind()) as plain:
        other_town = plain.execute(select(Town.id).where(Town.code == "daimiao")).scalar_one()
        other_household = _household_of(plain, "daimiao").id
    with pytest.raises(Refused) as refused:
        cases.open_case(s, town, channel="hotline", category="other", description="x", town_id=other_town)
    assert refused.value.field == "town_id"
    with pytest.raises(Refused) as refused:
        cases.open_case(s, town, channel="hotline", category="other", description="x", household_id=other_household)
    assert refused.value.field == "household_id"
    with pytest.raises(Refused) as refused:
        cases.open_case(s, town, channel="hotline", category="other", description="x", slip_number="NOPE-1")
    assert refused.value.field == "slip_number"


@pytest.mark.parametrize("username", ["finance", "auditor"])
def test_finance_and_the_auditor_read_cases_but_may_not_write(as_user, username):
    s, drc = as_user("drc")
    case = cases.open_case(s, drc, channel="hotline", category="quality", description="煤块发黑冒烟")
    s.commit()
    s.close()
    r, reader = as_user(username)
    assert cases.view(r, case.id).case.number == case.number
    with pytest.raises(NotAllowed):
        cases.open_case(r, reader, channel="hotline", category="quality", description="x")
    with pytest.raises(NotAllowed):
        cases.close(r, reader, case.id, finding="true", outcome="x")


@pytest.mark.parametrize("field, values", [
    ("channel", {"channel": "fax"}), ("category", {"category": "weather"}),
    ("description", {"description": "   "}), ("description", {"description": "坏\x07字符"}),
])
def test_bad_input_is_refused_by_its_field(as_user, field, values):
    s, drc = as_user("drc")
    with pytest.raises(Refused) as refused:
        cases.open_case(s, drc, **({"channel": "hotline", "category": "other", "description": "x"} | values))
    assert refused.value.field == field
    case = cases.open_case(s, drc, channel="hotline", category="other", description="x")
    with pytest.raises(Refused) as refused:
        cases.close(s, drc, case.id, finding="maybe", outcome="x")
    assert refused.value.field == "finding"


def test_the_system_opens_cases_and_overdue_ones_are_counted(engine, session, demo, frozen):
    frozen(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    caiyuan = session.execute(select(Town).where(Town.code == "caiyuan")).scalar_one()
    first = cases.open_case(session, None, channel="callback", category="short_weight", description="回访发现少量",
                            town_id=caiyuan.id)
    second = cases.open_case(session, None, channel="inspection", category="quality", description="抽检不合格")
    session.commit()
    assert [first.seq, second.seq] == [1, 2]
    assert cases.view(session, first.id).history[0].username == "system"
    assert cases.overdue_count(session) == 0
    frozen(datetime(2026, 12, 20, 2, 0, tzinfo=timezone.utc))
    assert cases.overdue_count(session) == 2
    cases.close(session, None, second.id, finding="true", outcome="批次停售")
    session.commit()
    assert cases.overdue_count(session) == 1 and cases.is_overdue(first)
    assert cases.list_cases(session, overdue=True).items == [first]
    assert cases.monthly_counts(session, first.season_id) == [("2026-12", 2, 1)]


def test_monthly_counts_put_a_case_in_its_china_month(session, demo, frozen):
    frozen(datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))  # 01:00 on 1 December in China
    case = cases.open_case(session, None, channel="system", category="impersonation", description="同一手机号多户")
    session.commit()
    assert cases.monthly_counts(session, case.season_id) == [("2026-12", 1, 0)]


@pytest.mark.pg_only(reason="two writers at once need PostgreSQL")
def test_cases_opened_at_once_get_unique_gapless_numbers(engine, session, demo):
    drc = f.user(session, "drc")
    session.commit()
    n = 6
    barrier = threading.Barrier(n, timeout=30)

    def one(i):
        s = db.new_session(engine, write=True, scope=Scope.of(drc))
        try:
            barrier.wait()
            return db.run_in_transaction(s, lambda: cases.open_case(
                s, drc, channel="hotline", category="other", description=f"来电{i}").number)
        finally:
            s.close()

    with ThreadPoolExecutor(n) as pool:
        numbers = list(pool.map(one, range(n)))
    assert sorted(int(x.rsplit("-", 1)[1]) for x in numbers) == list(range(1, n + 1))
