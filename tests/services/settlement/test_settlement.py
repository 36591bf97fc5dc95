"""Summaries, the review chain, settlement and payment on a real database (both backends)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, NotFound, SubsidyError
from subsidy.models import Settlement, SettlementFund, Slip, Summary, SummaryEvent
from subsidy.core.scope import Scope
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier, user
from subsidy.settlement import statements, summaries
from subsidy.rules import months


@pytest.fixture
def session(engine):
    """A plain (deferred) session for the test's own reads and setup: a write session would hold SQLite's lock
    between statements while the use cases under test run in sessions of their own. Reads start fresh."""
    s = db.new_session(engine)
    yield s
    s.rollback()
    s.close()


def fresh(session):
    session.rollback()
    session.expire_all()
    return session


def this_month() -> str:
    return months.month_of(clock.today())


def first_day():
    return clock.today().replace(day=1)


def sell(session, supplier_code="coal-a", villages=("dongguan", "yingxi"), kg=1000, when=None):
    """One slip per approved registration of those villages (different towns), committed."""
    seller = supplier(session, supplier_code)
    slips = []
    for code in villages:
        for registration in approved_registrations(session, code):
            slips.append(make_slip(session, supplier=seller, registration=registration,
                                   issued_on=when or first_day(), coal_kg=kg))
    session.commit()
    return slips


def as_user(engine, username):
    """A scoped write session for a demo user, as a request would have, and the user."""
    with db.new_session(engine) as s:
        me = user(s, username)
    return db.new_session(engine, write=True, scope=Scope.of(me)), me


def do(engine, username, work):
    s, me = as_user(engine, username)
    try:
        return db.run_in_transaction(s, lambda: work(s, me))
    finally:
        s.close()


def build(engine, username="coal-a", month=None):
    return do(engine, username, lambda s, me: summaries.build_summaries(s, clerk=me, month=month or this_month()))


def submit(engine, summary_id, username="coal-a"):
    allow_early(engine, summary_id)  # this month, before its end
    return do(engine, username, lambda s, me: summaries.submit(s, clerk=me, summary_id=summary_id,
                                                                 password=f"{username}-demo"))


def approve(engine, username, summary_id):
    return do(engine, username, lambda s, me: summaries.approve(s, reviewer=me, summary_id=summary_id))


def town_code(session, summary):
    from subsidy.models import Town
    code = session.get(Town, summary.town_id).code
    session.rollback()
    return code


def through_the_chain(engine, session, built):
    for summary in built:
        submit(engine, summary.id)
        approve(engine, town_code(session, summary), summary.id)
        approve(engine, "drc", summary.id)
        approve(engine, "finance", summary.id)


def test_a_whole_month_goes_from_slips_to_payment(engine, session, demo):
    slips = sell(session)
    drafts = build(engine)
    assert len(drafts) == 2  # caiyuan and daimiao
    assert sum(d.slip_count for d in drafts) == len(slips)
    through_the_chain(engine, session, drafts)
    statement, created = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=this_month()))
    assert created
    assert statement.number == f"JS-COAL-A-{this_month().replace('-', '')}"
    assert statement.subsidy_fen == sum(s.subsidy_fen for s in slips)
    assert statement.coal_kg == sum(s.coal_kg for s in slips)
    paid = do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=statement.id,
                                                             reference="BANK-001", paid_on=clock.today()))
    assert paid.status == "paid" and paid.payment_reference == "BANK-001"
    fresh(session)
    steps = session.execute(select(SummaryEvent.action).where(SummaryEvent.summary_id == drafts[0].id)
                            .order_by(SummaryEvent.id)).scalars().all()
    assert steps == ["build", "allow_early", "submit", "approve", "approve", "approve"]


def test_the_statement_subsidy_equals_the_sum_of_its_slips_and_its_funds_add_up(engine, session, demo):
    seller = supplier(session, "coal-a")
    fresh(session)
    # Awkward quantities so that fen round per line and the 50/50 split has an odd total.
    for n, registration in enumerate(approved_registrations(session, "dongguan")):
        make_slip(session, supplier=seller, registration=registration, issued_on=first_day(), coal_kg=333 + n * 7)
    session.commit()
    through_the_chain(engine, session, build(engine))
    statement, _ = do(engine, "finance", lambda s, me: statements.settle(s, officer=me, supplier_id=seller.id,
                                                                        month=this_month()))
    fresh(session)
    slips_sum = session.execute(select(func.sum(Slip.subsidy_fen)).join(Summary, Summary.id == Slip.summary_id)
                                .where(Summary.settlement_id == statement.id)).scalar()
    funds = session.execute(select(SettlementFund).where(SettlementFund.settlement_id == statement.id)).scalars().all()
    assert statement.subsidy_fen == slips_sum
    assert sum(f.subsidy_fen for f in funds) == statement.subsidy_fen
    assert {f.fund for f in funds} == {"city", "district"}


def test_a_returned_summary_is_corrected_and_submitted_again(engine, session, demo):
    slips = sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    do(engine, "caiyuan", lambda s, me: summaries.return_summary(s, reviewer=me, summary_id=draft.id,
                                                                 reason="第一张单据数量有误"))
    # The supplier voids the wrong slip and rebuilds: it leaves the summary and the totals follow.
    wrong = session.get(Slip, slips[0].id)
    wrong.status, wrong.void_reason, wrong.voided_at = "voided", "数量有误", clock.now()
    session.commit()
    (rebuilt,) = build(engine)
    assert rebuilt.id == draft.id and rebuilt.status == "returned"
    assert rebuilt.slip_count == len(slips) - 1
    submitted = submit(engine, draft.id)
    assert submitted.status == "submitted"
    assert approve(engine, "caiyuan", draft.id).status == "town_approved"
    fresh(session)
    assert session.get(Slip, wrong.id).summary_id is None


def test_a_return_needs_a_reason(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    with pytest.raises(SubsidyError):
        do(engine, "caiyuan", lambda s, me: summaries.return_summary(s, reviewer=me, summary_id=draft.id, reason=" "))


def test_submitting_needs_the_clerks_password_as_the_seal(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    with pytest.raises(SubsidyError, match="密码"):
        do(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=draft.id, password="wrong"))
    assert submit(engine, draft.id).status == "submitted"


def test_a_town_cannot_see_let_alone_approve_another_towns_summary(engine, session, demo):
    sell(session, villages=("yingxi",))  # daimiao
    (draft,) = build(engine)
    submit(engine, draft.id)
    with pytest.raises(NotFound):
        approve(engine, "caiyuan", draft.id)


def test_finance_cannot_approve_before_the_bureau(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    approve(engine, "caiyuan", draft.id)
    with pytest.raises(NotAllowed):
        approve(engine, "finance", draft.id)


def test_a_supplier_cannot_approve_its_own_summary(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    with pytest.raises(NotAllowed):
        approve(engine, "coal-a", draft.id)


def test_a_draft_cannot_be_approved_by_anyone(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    with pytest.raises(NotAllowed):
        approve(engine, "caiyuan", draft.id)


def test_slips_of_another_month_and_of_other_suppliers_stay_out(engine, session, demo):
    sell(session, villages=("dongguan",))
    earlier = first_day() - timedelta(days=1)
    sell(session, supplier_code="coal-b", villages=("xiguan",), kg=500)
    registration = approved_registrations(session, "dongguan")[0]
    make_slip(session, supplier=supplier(session, "coal-a"), registration=registration, issued_on=earlier, coal_kg=10)
    session.commit()
    expected = len(approved_registrations(session, "dongguan"))
    fresh(session)
    (draft,) = build(engine)
    assert draft.slip_count == expected
    assert build(engine) == [draft]  # rebuilding changes nothing: every slip is counted once


def test_a_set_aside_slip_leaves_the_summary_and_joins_a_later_month_once_released(engine, session, demo):
    slips = sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    after = do(engine, "caiyuan", lambda s, me: summaries.set_aside(s, reviewer=me, summary_id=draft.id,
                                                                    slip_id=slips[0].id, reason="用户签字不清"))
    assert after.slip_count == len(slips) - 1 and after.status == "submitted"
    next_month = months.month_of(months.month_bounds(this_month())[1] + timedelta(days=1))
    assert build(engine, month=next_month) == []  # still set aside: waits for the supplier
    do(engine, "coal-a", lambda s, me: summaries.release_slip(s, clerk=me, slip_id=slips[0].id))
    (later,) = build(engine, month=next_month)
    assert later.slip_count == 1 and later.id != draft.id


def test_the_review_shows_what_needs_a_look(engine, session, demo):
    seller = supplier(session, "coal-a")
    registrations = approved_registrations(session, "dongguan")
    make_slip(session, supplier=seller, registration=registrations[0], issued_on=first_day(), coal_kg=100)
    make_slip(session, supplier=seller, registration=registrations[1], issued_on=first_day(), coal_kg=100,
              price_fen=99_900)
    session.commit()
    (draft,) = build(engine)
    submit(engine, draft.id)
    s, me = as_user(engine, "caiyuan")
    with s:
        flagged = summaries.slips_with_flags(s, s.get(Summary, draft.id), me)
    assert all("本单位联未扫码" in f.flags for f in flagged)
    assert ["单价与合同不符" in f.flags for f in flagged] == [False, True]


def test_the_bureau_approves_several_at_once(engine, session, demo):
    sell(session)
    drafts = build(engine)
    for d in drafts:
        submit(engine, d.id)
        approve(engine, town_code(session, d), d.id)
    approved = do(engine, "drc", lambda s, me: summaries.approve_many(s, reviewer=me,
                                                                      summary_ids=[d.id for d in drafts]))
    assert {a.status for a in approved.approved} == {"drc_approved"} and approved.refused == []


def test_asking_for_the_statement_twice_gives_the_same_one(engine, session, demo):
    sell(session)
    through_the_chain(engine, session, build(engine))
    supplier_id = supplier(session, "coal-a").id
    fresh(session)
    first, created = do(engine, "finance", lambda s, me: statements.settle(s, officer=me, supplier_id=supplier_id,
                                                                          month=this_month()))
    again, created_again = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier_id, month=this_month()))
    assert created and not created_again and again.id == first.id


def test_paying_twice_is_refused(engine, session, demo):
    sell(session)
    through_the_chain(engine, session, build(engine))
    statement, _ = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=this_month()))
    pay = lambda s, me: statements.pay(s, officer=me, settlement_id=statement.id, reference="R1",  # noqa: E731
                                       paid_on=clock.today())
    do(engine, "finance", pay)
    with pytest.raises(Conflict):
        do(engine, "finance", pay)


def _race(n, target):
    results, errors = [], []
    barrier = threading.Barrier(n)

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as error:  # noqa: BLE001 - collected and asserted on
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_two_officers_paying_at_the_same_moment_pay_once(engine, session, demo):
    sell(session)
    through_the_chain(engine, session, build(engine))
    statement, _ = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=this_month()))
    results, errors = _race(4, lambda: do(engine, "finance", lambda s, me: statements.pay(
        s, officer=me, settlement_id=statement.id, reference="R", paid_on=clock.today())))
    assert len(results) == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors)


def test_two_officers_settling_at_the_same_moment_make_one_statement(engine, session, demo):
    sell(session)
    through_the_chain(engine, session, build(engine))
    supplier_id = supplier(session, "coal-a").id
    fresh(session)
    results, errors = _race(4, lambda: do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier_id, month=this_month())))
    assert not errors, errors
    assert len({statement.id for statement, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert fresh(session).execute(select(func.count(Settlement.id))).scalar() == 1


def test_two_builds_at_the_same_moment_count_each_slip_once(engine, session, demo):
    slips = sell(session)
    results, errors = _race(4, lambda: build(engine))
    assert not errors, errors
    fresh(session)
    counted = session.execute(select(func.sum(Summary.slip_count))).scalar()
    assert counted == len(slips)
    assert session.execute(select(func.count(Slip.id)).where(Slip.summary_id.is_(None))).scalar() == 0
    assert session.execute(select(func.count(Summary.id))).scalar() == 2


def test_two_reviewers_approving_at_the_same_moment_approve_once(engine, session, demo):
    sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    results, errors = _race(3, lambda: approve(engine, "caiyuan", draft.id))
    assert len(results) == 1 and len(errors) == 2
    assert all(isinstance(e, (Conflict, NotAllowed)) for e in errors)
    assert fresh(session).execute(select(func.count(SummaryEvent.id)).where(SummaryEvent.action == "approve")).scalar() == 1


# ----------------------------------------------------------------------------- summaries approved after settlement


def settle(engine, supplier_id, month=None):
    return do(engine, "finance", lambda s, me: statements.settle(s, officer=me, supplier_id=supplier_id,
                                                                month=month or this_month()))


def late_summary(engine, session):
    """The month settled from dongguan's summary (caiyuan); then yingxi's (daimiao) reaches finance approval."""
    first_slips = sell(session, villages=("dongguan",))
    (early,) = build(engine)
    late_slips = sell(session, villages=("yingxi",), kg=700)
    (late,) = [d for d in build(engine) if d.id != early.id]
    through_the_chain(engine, session, [early])
    supplier_id = supplier(session, "coal-a").id
    fresh(session)
    first, created = settle(engine, supplier_id)
    assert created
    through_the_chain(engine, session, [late])
    return supplier_id, first, first_slips, late, late_slips


def test_a_summary_approved_after_its_month_was_settled_gets_a_supplementary_statement(engine, session, demo):
    supplier_id, first, first_slips, late, late_slips = late_summary(engine, session)
    supplement, created = settle(engine, supplier_id)
    assert created and supplement.id != first.id and supplement.seq == 2
    assert supplement.number == f"JS-COAL-A-{this_month().replace('-', '')}-2"
    assert supplement.subsidy_fen == sum(s.subsidy_fen for s in late_slips)
    fresh(session)
    # The first statement is untouched and each summary is in exactly one statement.
    kept = session.get(Settlement, first.id)
    assert (kept.subsidy_fen, kept.slip_count) == (sum(s.subsidy_fen for s in first_slips), len(first_slips))
    assert session.get(Summary, late.id).settlement_id == supplement.id
    stated = session.execute(select(Settlement.subsidy_fen)).scalars().all()
    all_slips = session.execute(select(func.sum(Slip.subsidy_fen))).scalar()
    assert sum(stated) == all_slips
    funds = session.execute(select(func.sum(SettlementFund.subsidy_fen))
                            .where(SettlementFund.settlement_id == supplement.id)).scalar()
    assert funds == supplement.subsidy_fen


def test_asking_again_after_the_supplement_gives_the_supplement(engine, session, demo):
    supplier_id, first, *_ = late_summary(engine, session)
    supplement, _ = settle(engine, supplier_id)
    again, created = settle(engine, supplier_id)
    assert not created and again.id == supplement.id
    fresh(session)
    assert session.execute(select(func.count(Settlement.id))).scalar() == 2


def test_a_paid_statement_is_never_reopened_for_a_late_summary(engine, session, demo):
    supplier_id, first, first_slips, late, late_slips = late_summary(engine, session)
    do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=first.id, reference="BANK-1",
                                                      paid_on=clock.today()))
    supplement, created = settle(engine, supplier_id)
    assert created and supplement.status == "settled" and supplement.seq == 2
    fresh(session)
    paid = session.get(Settlement, first.id)
    assert paid.status == "paid" and paid.subsidy_fen == sum(s.subsidy_fen for s in first_slips)


def test_the_finance_queue_shows_a_late_summary_as_waiting_for_a_supplement(engine, session, demo):
    supplier_id, first, _, late, _ = late_summary(engine, session)
    s, _ = as_user(engine, "finance")
    with s:
        (waiting,) = statements.ready_to_settle(s)
    assert (waiting.supplier_id, waiting.month, waiting.summaries) == (supplier_id, this_month(), 1)
    assert waiting.supplementary and [st.id for st in waiting.statements] == [first.id]
    assert waiting.subsidy_fen == late.subsidy_fen


def test_two_officers_settling_a_late_summary_at_the_same_moment_make_one_supplement(engine, session, demo):
    supplier_id, first, *_ = late_summary(engine, session)
    results, errors = _race(4, lambda: settle(engine, supplier_id))
    assert not errors, errors
    assert len({statement.id for statement, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert {statement.seq for statement, _ in results} == {2}
    fresh(session)
    assert session.execute(select(func.count(Settlement.id))).scalar() == 2
    assert session.execute(select(func.count(Summary.id)).where(Summary.settlement_id.is_(None))).scalar() == 0


def test_a_released_slip_of_an_earlier_month_is_settled_with_its_new_summary(engine, session, demo):
    """A slip dated before its summary's month (set aside, then released) is found and counted like the others."""
    slips = sell(session, villages=("dongguan",))
    (draft,) = build(engine)
    submit(engine, draft.id)
    do(engine, "caiyuan", lambda s, me: summaries.set_aside(s, reviewer=me, summary_id=draft.id,
                                                            slip_id=slips[0].id, reason="用户签字不清"))
    do(engine, "coal-a", lambda s, me: summaries.release_slip(s, clerk=me, slip_id=slips[0].id))
    next_month = months.month_of(months.month_bounds(this_month())[1] + timedelta(days=1))
    (later,) = build(engine, month=next_month)
    s, me = as_user(engine, "caiyuan")
    with s:
        (flagged,) = summaries.slips_with_flags(s, s.get(Summary, later.id), me)
    assert flagged.slip.id == slips[0].id and "不在本月" in flagged.flags
    through_the_chain(engine, session, [later])
    statement, _ = settle(engine, supplier(session, "coal-a").id, next_month)
    assert (statement.slip_count, statement.subsidy_fen) == (1, slips[0].subsidy_fen)


@pytest.mark.pg_only(reason="HOT updates are PostgreSQL's")
def test_a_build_leaves_every_slip_index_alone_on_postgresql(engine, session, demo):
    """No index covers slip.summary_id (models/slips.py), so PostgreSQL hands a month's slips to their summaries
    with HOT updates: each row rewritten on its own page, no index entry written. An index on summary_id, even a
    partial one, would silently make the build several times slower."""
    sell(session)
    counters = text("SELECT pg_stat_get_xact_tuples_updated('slip'::regclass), "
                    "pg_stat_get_xact_tuples_hot_updated('slip'::regclass)")
    s, me = as_user(engine, "coal-a")
    with s:
        updated_before, hot_before = s.execute(counters).one()  # the connection's counts not yet reported
        drafts = summaries.build_summaries(s, clerk=me, month=this_month())
        updated, hot = s.execute(counters).one()
        s.rollback()
    assert updated - updated_before == sum(d.slip_count for d in drafts) > 0
    assert hot - hot_before == updated - updated_before


def test_no_slip_index_covers_summary_id():
    from sqlalchemy import UniqueConstraint

    for index in Slip.__table__.indexes:
        assert "summary_id" not in [c.name for c in index.columns], index.name
        for dialect in ("postgresql", "sqlite"):
            where = index.dialect_options[dialect]["where"]
            assert where is None or "summary_id" not in str(where), index.name
    for constraint in Slip.__table__.constraints:
        if isinstance(constraint, UniqueConstraint):
            assert "summary_id" not in [c.name for c in constraint.columns], constraint.name
