"""Callback samples (回访抽查) on a real database, both backends: the draw and its seed, the refusals, callbacks with
and without a discrepancy, the bureau's approval waiting for them, and the settlement that follows the set-aside."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subsidy.core import db
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.models import (
    AuditEntry, Callback, CallbackSample, CallbackSampleSlip, Case, CaseLink, Slip, Summary,
)
from subsidy.rules import sampling
from subsidy.settlement import statements, summaries
from subsidy.verification import callbacks
from tests.factories.settlement import supplier
from tests.services.settlement.test_settlement import (  # noqa: F401 - the same session fixture and helpers
    _race, approve, build, do, fresh, sell, session, submit, this_month, town_code,
)


@pytest.fixture
def submitted(engine, session, demo):
    """coal-a's month in caiyuan (two slips of 400 kg for each approved registration of its two villages), built
    and submitted: the summary as it was then (detached, so that later reads do not refresh it)."""
    sell(session, villages=("dongguan", "xiguan"), kg=400)
    sell(session, villages=("dongguan", "xiguan"), kg=400)
    (draft,) = build(engine)
    submit(engine, draft.id)
    summary = fresh(session).get(Summary, draft.id)
    assert summary.slip_count >= 4
    session.expunge(summary)
    return summary


def draw(engine, summary_id, username="drc", **how):
    return do(engine, username, lambda s, me: callbacks.draw_sample(s, user=me, summary_id=summary_id, **how))


def call(engine, number, username="drc", **said):
    said = {"reached": True, "attempts": 1, **said}
    return do(engine, username, lambda s, me: callbacks.record_callback(s, user=me, slip_number=number, **said))


def as_sold(engine, number, **overrides):
    """A callback that confirms the slip exactly (received what it says, paid its household share)."""
    with db.new_session(engine) as s:
        slip = s.execute(select(Slip).where(Slip.number == number)).scalar_one()
        said = {"received_kg": slip.coal_kg, "received_stoves": slip.stoves, "paid_fen": slip.household_pays_fen}
    return call(engine, number, **(said | overrides))


# --- the draw --------------------------------------------------------------------------------------------------------

def test_a_draw_takes_the_size_asked_of_the_summarys_own_slips(engine, session, submitted):
    drawn = draw(engine, submitted.id, size=2)
    assert len(drawn.numbers) == 2 == drawn.sample.size
    fresh(session)
    own = set(session.execute(select(Slip.number).where(Slip.summary_id == submitted.id)).scalars())
    assert set(drawn.numbers) <= own
    assert drawn.sample.population == submitted.slip_count == len(own)


def test_the_draw_is_repeated_from_its_seed(engine, session, submitted):
    drawn = draw(engine, submitted.id, size=2)
    fresh(session)
    population = summaries.standing_slip_ids(session, submitted)
    stored = session.execute(select(CallbackSampleSlip.slip_id).where(CallbackSampleSlip.sample_id == drawn.sample.id)
                             .order_by(CallbackSampleSlip.position)).scalars().all()
    assert sampling.draw(drawn.sample.seed, list(reversed(population)), 2) == stored
    assert sampling.digest(population) == drawn.sample.population_digest
    assert sampling.draw(drawn.sample.seed + 1, population, len(population)) != \
        sampling.draw(drawn.sample.seed, population, len(population)) or len(population) < 3


def test_the_sample_is_read_a_page_at_a_time_in_the_order_of_the_draw(engine, session, submitted):
    drawn = draw(engine, submitted.id, size=submitted.slip_count)
    fresh(session)
    sample = callbacks.sample_of(session, submitted.id)
    walked, pg = [], callbacks.sampled_rows(session, sample, per_page=2)
    assert pg.total == sample.size and pg.prev is None
    while True:
        walked += [(row.position, row.slip.number) for row in pg.items]
        if pg.next is None:
            break
        pg = callbacks.sampled_rows(session, sample, per_page=2, after=pg.next)
    assert walked == list(enumerate(drawn.numbers, start=1))
    second = callbacks.sampled_rows(session, sample, per_page=2, page=2)
    assert [row.position for row in second.items] == [3, 4]
    back = callbacks.sampled_rows(session, sample, per_page=2, before=second.prev)
    assert [row.position for row in back.items] == [1, 2] and back.page == 1


def test_a_percentage_is_rounded_up_to_at_least_one_slip(engine, session, submitted):
    drawn = draw(engine, submitted.id, percent=1)
    assert drawn.sample.size == 1 and drawn.sample.percent == 1


def test_a_summary_is_sampled_once(engine, session, submitted):
    first = draw(engine, submitted.id, size=1)
    with pytest.raises(Conflict) as refused:
        draw(engine, submitted.id, username=town_code(session, submitted), size=1)
    assert refused.value.existing_id == first.sample.id


def test_two_parallel_draws_of_one_summary_make_one_sample(engine, session, submitted):
    results, errors = _race(4, lambda: draw(engine, submitted.id, size=1))
    assert len(results) == 1 and len(errors) == 3
    assert all(isinstance(e, Conflict) for e in errors), errors
    fresh(session)
    assert session.execute(select(func.count()).select_from(CallbackSample)).scalar_one() == 1
    assert session.execute(select(func.count()).select_from(CallbackSampleSlip)).scalar_one() == 1


@pytest.mark.parametrize("how, field", [({}, "size"), ({"size": 1, "percent": 5}, "size"), ({"size": 0}, "size"),
                                        ({"size": 10_000}, "size"), ({"percent": 101}, "percent"),
                                        ({"percent": True}, "percent"), ({"size": "x"}, "size")])
def test_a_draw_needs_one_sensible_size(engine, session, submitted, how, field):
    with pytest.raises(Refused) as refused:
        draw(engine, submitted.id, **how)
    assert field in refused.value.errors
    fresh(session)
    assert session.execute(select(func.count()).select_from(CallbackSample)).scalar_one() == 0


def test_a_draft_is_not_sampled(engine, session, demo):
    sell(session, villages=("dongguan", "xiguan"))
    (draft,) = build(engine)
    with pytest.raises(Conflict):
        draw(engine, draft.id, size=1)


def test_a_summary_the_bureau_approved_is_not_sampled(engine, session, submitted):
    approve(engine, town_code(session, submitted), submitted.id)
    approve(engine, "drc", submitted.id)
    with pytest.raises(Conflict):
        draw(engine, submitted.id, size=1)


def test_another_towns_summary_is_not_found_and_other_roles_may_not_draw(engine, session, submitted):
    with pytest.raises(NotFound):
        draw(engine, submitted.id, username="daimiao", size=1)
    for username in ("finance", "coal-a", "auditor"):
        with pytest.raises(NotAllowed):
            draw(engine, submitted.id, username=username, size=1)


def test_the_town_draws_on_its_own_summary(engine, session, submitted):
    drawn = draw(engine, submitted.id, username=town_code(session, submitted), size=1)
    assert drawn.sample.summary_id == submitted.id


# --- callbacks -------------------------------------------------------------------------------------------------------

def test_a_callback_that_matches_the_slip_is_no_discrepancy(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number, note="户主本人接听")
    assert not recorded.callback.discrepancy and recorded.callback.done and recorded.callback.case_id is None
    fresh(session)
    assert session.get(Summary, submitted.id).slip_count == submitted.slip_count
    assert callbacks.progress(session, [submitted.id])[submitted.id].as_dict() == {
        "size": 1, "done": 1, "discrepancies": 0}


@pytest.mark.parametrize("said, category", [
    ({"received_kg": 300}, "short_weight"),
    ({"paid_fen": 10**7}, "price"),
    ({"received_kg": 0, "received_stoves": 0, "paid_fen": 0}, "impersonation"),
])
def test_a_discrepancy_sets_the_slip_aside_and_opens_a_case(engine, session, submitted, said, category):
    (number,) = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number, **said)
    assert recorded.callback.discrepancy and recorded.reasons
    fresh(session)
    slip = session.execute(select(Slip).where(Slip.number == number)).scalar_one()
    assert slip.summary_id is None and slip.set_aside_reason.startswith("回访发现问题")
    assert slip.status == "issued" and slip.coal_kg == 400  # the slip itself never changes
    summary = session.get(Summary, submitted.id)
    assert summary.slip_count == submitted.slip_count - 1
    assert summary.subsidy_fen == submitted.subsidy_fen - slip.subsidy_fen
    case = session.get(Case, recorded.callback.case_id)
    assert (case.channel, case.category, case.town_id) == ("callback", category, slip.town_id)
    assert session.execute(select(CaseLink.label).where(CaseLink.case_id == case.id, CaseLink.kind == "slip")
                           ).scalar_one() == number
    assert callbacks.progress(session, [submitted.id])[submitted.id].discrepancies == 1


def test_the_bureau_cannot_approve_while_callbacks_are_open(engine, session, submitted):
    numbers = draw(engine, submitted.id, size=2).numbers
    approve(engine, town_code(session, submitted), submitted.id)
    with pytest.raises(Conflict) as refused:
        approve(engine, "drc", submitted.id)
    assert "回访" in refused.value.message and "sample" in refused.value.errors
    as_sold(engine, numbers[0])
    with pytest.raises(Conflict):
        approve(engine, "drc", submitted.id)
    as_sold(engine, numbers[1])
    assert approve(engine, "drc", submitted.id).status == "drc_approved"


def test_an_unreached_household_counts_as_called_back_after_three_tries(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    approve(engine, town_code(session, submitted), submitted.id)
    first = call(engine, number, reached=False, attempts=2).callback
    assert not first.done and first.received_kg is None
    with pytest.raises(Conflict):
        approve(engine, "drc", submitted.id)
    with pytest.raises(Refused) as refused:
        call(engine, number, reached=False, attempts=2)  # no more tries than already recorded
    assert "attempts" in refused.value.errors
    assert call(engine, number, reached=False, attempts=3).callback.done
    assert approve(engine, "drc", submitted.id).status == "drc_approved"
    fresh(session)
    rows = session.execute(select(Callback.attempts, Callback.done).order_by(Callback.id)).all()
    assert [tuple(r) for r in rows] == [(2, False), (3, True)]  # both recordings kept, nothing overwritten


def test_a_finished_callback_is_not_recorded_again(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    as_sold(engine, number)
    with pytest.raises(Conflict):
        as_sold(engine, number, attempts=2)


def test_a_slip_in_no_sample_is_not_found(engine, session, submitted):
    drawn = draw(engine, submitted.id, size=1)
    fresh(session)
    other = session.execute(select(Slip.number).where(Slip.summary_id == submitted.id,
                                                      Slip.number != drawn.numbers[0])).scalars().first()
    for number in (other, "NO-SUCH-SLIP", ""):
        with pytest.raises(NotFound):
            call(engine, number, received_kg=400, received_stoves=0, paid_fen=0)


def test_another_town_cannot_record_a_callback_of_this_towns_slip(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    with pytest.raises(NotFound):
        call(engine, number, username="daimiao", received_kg=400, received_stoves=0, paid_fen=0)


@pytest.mark.parametrize("said, field", [
    ({"received_kg": None}, "received_kg"), ({"paid_fen": -1}, "paid_fen"), ({"attempts": 0}, "attempts"),
    ({"reached": "yes"}, "reached"), ({"received_stoves": 1.5}, "received_stoves"), ({"note": "x" * 501}, "note"),
])
def test_a_callback_with_bad_figures_is_refused_and_writes_nothing(engine, session, submitted, said, field):
    (number,) = draw(engine, submitted.id, size=1).numbers
    with pytest.raises(Refused) as refused:
        as_sold(engine, number, **said)
    assert field in refused.value.errors
    fresh(session)
    assert session.execute(select(func.count()).select_from(Callback)).scalar_one() == 0


def test_the_note_is_in_the_audit_log_by_reference_only(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number, note="住户称邻居张三代收")
    fresh(session)
    after = session.execute(select(AuditEntry.after).where(AuditEntry.action == "callback.recorded")).scalar_one()
    assert "张三" not in after
    assert json.loads(after)["note_ref"] == f"callback:{recorded.callback.id}"


def test_a_discrepancy_leaves_the_settlement_without_the_slip_to_the_fen(engine, session, submitted):
    numbers = draw(engine, submitted.id, size=2).numbers
    as_sold(engine, numbers[0], received_kg=200)
    as_sold(engine, numbers[1])
    approve(engine, town_code(session, submitted), submitted.id)
    approve(engine, "drc", submitted.id)
    approve(engine, "finance", submitted.id)
    statement, _ = do(engine, "finance", lambda s, me: statements.settle(
        s, officer=me, supplier_id=supplier(s, "coal-a").id, month=this_month()))
    fresh(session)
    standing = session.execute(select(Slip).where(Slip.summary_id == submitted.id)).scalars().all()
    removed = session.execute(select(Slip).where(Slip.number == numbers[0])).scalar_one()
    assert removed not in standing
    assert statement.subsidy_fen == sum(s.subsidy_fen for s in standing) == submitted.subsidy_fen - removed.subsidy_fen
    assert statement.amount_fen == submitted.amount_fen - removed.amount_fen
    assert statement.slip_count == submitted.slip_count - 1


def test_the_month_report_counts_the_callbacks(engine, session, submitted):
    numbers = draw(engine, submitted.id, size=2).numbers
    as_sold(engine, numbers[0], received_kg=100)
    call(engine, numbers[1], reached=False, attempts=3)
    fresh(session)
    figures = callbacks.month_figures(session, this_month())
    assert (figures.size, figures.done, figures.reached, figures.discrepancies) == (2, 2, 1, 1)


def test_the_month_report_counts_the_callbacks_per_supplier_and_town_in_the_callers_scope(engine, session, submitted):
    numbers = draw(engine, submitted.id, size=3).numbers
    as_sold(engine, numbers[0], received_kg=100)      # reached, a discrepancy
    call(engine, numbers[1], reached=False, attempts=3)  # done: unreached after three tries
    call(engine, numbers[2], reached=False, attempts=1)  # not done yet
    session.rollback()  # the fixture's read ended before this session writes (SQLite)
    sell(session, "coal-b", villages=("yingxi",), kg=400)
    (other,) = build(engine, "coal-b")
    submit(engine, other.id, "coal-b")
    (theirs,) = draw(engine, other.id, size=1).numbers
    as_sold(engine, theirs)
    fresh(session)
    rows = callbacks.month_figures_by_supplier_and_town(session, this_month())
    assert [(r.supplier, r.town, r.size, r.done, r.reached, r.discrepancies) for r in rows] == [
        ("泰安市乙清洁能源有限公司", "岱庙街道", 1, 1, 1, 0), ("泰安市甲洁净煤配送有限公司", "财源街道", 3, 2, 1, 1)]
    total = callbacks.month_figures(session, this_month())
    assert (total.size, total.done, total.reached, total.discrepancies) == (4, 3, 2, 1)
    # The town sees its own town's row only, and its total is that row.
    mine = do(engine, "caiyuan", lambda s, me: callbacks.month_figures_by_supplier_and_town(s, this_month()))
    assert [(r.town, r.size, r.done) for r in mine] == [("财源街道", 3, 2)]
    assert do(engine, "caiyuan", lambda s, me: callbacks.month_figures(s, this_month()).size) == 3


def test_the_database_keeps_one_done_callback_per_sampled_slip(engine, session, submitted):
    """Behind the service: a second done row for the same sampled slip is refused by the partial unique index."""
    (number,) = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number).callback
    with db.new_session(engine, write=True) as s:
        s.add(Callback(sample_id=recorded.sample_id, slip_id=recorded.slip_id, reached=True, attempts=5, done=True,
                       received_kg=1, received_stoves=0, paid_fen=0))
        with pytest.raises(Exception) as error:
            s.commit()
        assert "unique" in str(error.value).lower()


def test_two_parallel_callbacks_of_one_sampled_slip_record_one(engine, session, submitted):
    (number,) = draw(engine, submitted.id, size=1).numbers
    results, errors = _race(4, lambda: as_sold(engine, number, received_kg=100))
    assert len(results) == 1 and len(errors) == 3, errors
    assert all(isinstance(e, Conflict) for e in errors), errors
    fresh(session)
    assert session.execute(select(func.count()).select_from(Callback)).scalar_one() == 1
    assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 1  # one case, not four


def test_the_note_never_reaches_the_log(engine, session, submitted, caplog):
    import logging
    for name in ("", "sqlalchemy.engine", "subsidy", "subsidy.web"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    (number,) = draw(engine, submitted.id, size=1).numbers
    as_sold(engine, number, received_kg=100, note="住户称邻居李四代收")
    with pytest.raises(Conflict):
        as_sold(engine, number, attempts=2, note="住户称邻居李四代收")
    assert "李四" not in caplog.text + "".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)


def test_a_draw_racing_the_bureaus_approval_never_leaves_an_approved_summary_with_open_callbacks(
        engine, session, submitted):
    approve(engine, town_code(session, submitted), submitted.id)
    turn = iter(range(2))
    work = [lambda: draw(engine, submitted.id, size=1), lambda: approve(engine, "drc", submitted.id)]
    results, errors = _race(2, lambda: work[next(turn)]())
    assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], Conflict), errors
    fresh(session)
    status = session.get(Summary, submitted.id).status
    sample = callbacks.progress(session, [submitted.id]).get(submitted.id)
    assert (status, sample is None) in {("drc_approved", True), ("town_approved", False)}
