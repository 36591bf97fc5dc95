"""A summary's totals always equal its standing slips, whatever the order of voids, set-asides, releases, returns,
rebuilds and approvals; and an approval of figures that changed meanwhile is refused (DESIGN.md invariant 7)."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, NotFound, SubsidyError
from subsidy.core.scope import Scope
from subsidy.models import Slip, SlipStatus, Summary, Town
from subsidy.rules import months
from subsidy.sales import voiding
from subsidy.settlement import summaries
from tests.factories.settlement import allow_early, approved_registrations, make_slip, supplier, user

REVIEWER = {"submitted": None, "town_approved": "drc", "drc_approved": "finance"}  # None: the summary's town


def do(engine, username, work):
    with db.new_session(engine) as s:
        me = user(s, username)
    s = db.new_session(engine, write=True, scope=Scope.of(me))
    try:
        return db.run_in_transaction(s, lambda: work(s, me))
    finally:
        s.close()


def standing(engine, summary_id: int) -> summaries.Figures:
    with db.new_session(engine) as s:
        row = s.execute(select(func.count(Slip.id), func.coalesce(func.sum(Slip.coal_kg), 0),
                               func.coalesce(func.sum(Slip.stoves), 0), func.coalesce(func.sum(Slip.amount_fen), 0),
                               func.coalesce(func.sum(Slip.subsidy_fen), 0))
                        .where(Slip.summary_id == summary_id, Slip.status == SlipStatus.ISSUED)).one()
    return summaries.Figures(*(int(v) for v in row))


def stored(engine, summary_id: int) -> tuple[summaries.Figures, str, str]:
    with db.new_session(engine) as s:
        summary = s.get(Summary, summary_id)
        town = s.get(Town, summary.town_id).code
        return summaries.Figures.of(summary), summary.status, town


def month_of_slips(engine, *, kg=900) -> int:
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        for registration in approved_registrations(s, "dongguan"):
            make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                      coal_kg=kg)
    (summary,) = do(engine, "coal-a", lambda s, me: summaries.build_summaries(
        s, clerk=me, month=months.month_of(clock.today())))
    allow_early(engine, summary.id)  # this month, before its end
    do(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=summary.id, password="coal-a-demo"))
    return summary.id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_totals_equal_the_standing_slips_after_any_sequence_of_changes(demo, engine, seed):
    rng = random.Random(seed)
    summary_id = month_of_slips(engine)
    opened = stored(engine, summary_id)[0]  # what a reviewer saw when they opened the summary page
    for step in range(18):
        figures, status, town = stored(engine, summary_id)
        reviewer = REVIEWER.get(status, "") or town if status in REVIEWER else None
        with db.new_session(engine) as s:
            in_summary = s.execute(select(Slip.id, Slip.number).where(Slip.summary_id == summary_id,
                                                                      Slip.status == SlipStatus.ISSUED)).all()
            set_aside = s.execute(select(Slip.id).where(Slip.set_aside_reason != "", Slip.summary_id.is_(None),
                                                        Slip.status == SlipStatus.ISSUED)).scalars().all()
        action = rng.choice(["void", "set_aside", "release", "approve_seen", "approve_stale", "return",
                             "rebuild_submit", "open"])
        try:
            if action == "void" and in_summary:
                number = rng.choice(in_summary).number
                do(engine, "coal-a", lambda s, me: voiding.void_slip(s, user=me, number=number, reason="随机作废"))
            elif action == "set_aside" and in_summary and reviewer:
                slip_id = rng.choice(in_summary).id
                do(engine, reviewer, lambda s, me: summaries.set_aside(s, reviewer=me, summary_id=summary_id,
                                                                        slip_id=slip_id, reason="随机剔除"))
            elif action == "release" and set_aside:
                slip_id = rng.choice(set_aside)
                do(engine, "coal-a", lambda s, me: summaries.release_slip(s, clerk=me, slip_id=slip_id))
            elif action in ("approve_seen", "approve_stale") and reviewer:
                seen = figures if action == "approve_seen" else opened
                try:
                    do(engine, reviewer, lambda s, me: summaries.approve(s, reviewer=me, summary_id=summary_id,
                                                                          seen=seen))
                    assert seen == figures, "approved figures that were not the summary's"
                except Conflict:
                    assert seen != figures, "refused the very figures the summary has"
            elif action == "return" and reviewer:
                do(engine, reviewer, lambda s, me: summaries.return_summary(s, reviewer=me, summary_id=summary_id,
                                                                             reason="随机退回"))
            elif action == "rebuild_submit" and status in ("draft", "returned"):
                do(engine, "coal-a", lambda s, me: summaries.rebuild(s, clerk=me, summary_id=summary_id))
                do(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=summary_id,
                                                                     password="coal-a-demo"))
            elif action == "open":
                opened = figures
        except (Conflict, NotAllowed, NotFound, SubsidyError):
            pass  # a refusal the rules give in this state; the invariant below must hold all the same
        assert stored(engine, summary_id)[0] == standing(engine, summary_id), (seed, step, action)


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_a_void_while_the_town_approves_never_lets_the_old_figures_through(demo, engine, attempt):
    """The supplier voids a slip of a submitted summary while the town approves the figures it opened: either the
    void comes first and the approval is refused, or the approval first and the void is refused; never both."""
    summary_id = month_of_slips(engine, kg=500 + attempt)
    figures, _, town = stored(engine, summary_id)
    with db.new_session(engine) as s:
        number = s.execute(select(Slip.number).where(Slip.summary_id == summary_id).limit(1)).scalar_one()
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def void():
        start.wait()
        try:
            do(engine, "coal-a", lambda s, me: voiding.void_slip(s, user=me, number=number, reason="并发作废"))
            outcomes["void"] = "done"
        except Conflict:
            outcomes["void"] = "refused"

    def approve():
        start.wait()
        try:
            do(engine, town, lambda s, me: summaries.approve(s, reviewer=me, summary_id=summary_id, seen=figures))
            outcomes["approve"] = "done"
        except Conflict:
            outcomes["approve"] = "refused"

    threads = [threading.Thread(target=void), threading.Thread(target=approve)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["done", "refused"], outcomes
    assert stored(engine, summary_id)[0] == standing(engine, summary_id)
