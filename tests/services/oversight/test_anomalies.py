"""The anomaly rules (异常预警): each with a planted positive and a near miss beside it, dismissed flags staying
dismissed for the same evidence and new evidence raising a new flag, confirming opening one case, and on
PostgreSQL the dialect fork's two branches agreeing and two runs or two reviewers at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.models import AnomalyFlag, AuditEntry, Case, CaseLink, Delivery, SlipStatus
from subsidy.oversight import anomalies
from tests.factories import oversight as o
from tests.factories import sales as f

CHINA = timezone(timedelta(hours=8))


def _flags(session, rule, **where) -> list[AnomalyFlag]:
    query = select(AnomalyFlag).where(AnomalyFlag.rule == rule).order_by(AnomalyFlag.id)
    return [x for x in session.execute(query).scalars() if all(getattr(x, k) == v for k, v in where.items())]


def _with(session, rule, ids) -> list[AnomalyFlag]:
    """The flags of `rule` whose evidence holds any of `ids`."""
    ids = set(ids)
    return [x for x in _flags(session, rule) if ids & set(anomalies.member_ids(x))]


def _run(session, **kw):
    result = anomalies.run(session, **kw)
    session.commit()
    return result


def _on_one_phone(session, phone):
    """Three new households on `phone`, the rules run: (the households, their shared_phone flag)."""
    three = o.households(session, 3, phone=phone)
    _run(session)
    [flag] = _with(session, "shared_phone", [h.id for h in three])
    return three, flag


def test_three_households_on_one_phone_are_flagged_with_the_phone_masked_and_two_are_not(session, demo):
    three = o.households(session, 3, phone="13912345678")
    two = o.households(session, 2, phone="13912340000", village_code="yingxi")
    _run(session)
    [flag] = _with(session, "shared_phone", [h.id for h in three])
    assert anomalies.member_ids(flag) == sorted(h.id for h in three)
    assert (flag.size, flag.status, flag.member_kind) == (3, "open", "household")
    assert "5678" in flag.subject and "13912345678" not in flag.subject and "1391234" not in flag.subject
    assert _with(session, "shared_phone", [h.id for h in two]) == []


def test_one_address_however_spelled_on_three_households_of_a_village_is_flagged_but_not_across_villages(
        session, demo):
    spelled = o.households(session, 3, addresses=["东关村 三组 ５号", "东关村3組5號", "东关村第三队5#"])
    near = o.households(session, 2, address="东关村7组1号") + o.households(session, 1, village_code="yingxi",
                                                                          address="东关村7组1号")
    _run(session)
    [flag] = _with(session, "shared_address", [h.id for h in spelled])
    assert anomalies.member_ids(flag) == sorted(h.id for h in spelled)
    assert "东关村3组5号" in flag.subject
    assert _with(session, "shared_address", [h.id for h in near]) == []


def test_an_edited_address_moves_its_key_along(session, demo):
    [h] = o.households(session, 1, address="东关村 1 组")
    assert h.address_key == "东关村1组"
    h.address = "东关村二组"
    session.flush()
    assert h.address_key == "东关村2组"


def test_two_voided_slips_of_one_household_are_flagged_and_one_is_not(session, demo):
    clerk = o.clerk(session, "void-clerk")
    busy, calm = o.households(session, 2)
    others = o.households(session, 60)
    at = clock.now() - timedelta(days=1)
    voided = [o.slip(session, busy, clerk, at, status=SlipStatus.VOIDED) for _ in range(2)]
    once = o.slip(session, calm, clerk, at, status=SlipStatus.VOIDED)
    for h in others:  # enough standing slips that the clerk's 3 voids of 63 stay under 5%
        o.slip(session, h, clerk, at)
    _run(session)
    [flag] = _flags(session, "repeated_voids", subject_key=f"household:{busy.id}")
    assert anomalies.member_ids(flag) == sorted(s.id for s in voided) and flag.member_kind == "slip"
    assert _flags(session, "repeated_voids", subject_key=f"household:{calm.id}") == []
    assert _flags(session, "repeated_voids", subject_key=f"clerk:{clerk.id}") == []
    assert once.id not in anomalies.member_ids(flag)


def test_a_clerk_voiding_more_than_five_percent_is_flagged_and_exactly_five_percent_is_not(session, demo):
    over, exact = o.clerk(session, "over-clerk"), o.clerk(session, "exact-clerk")
    people = o.households(session, 20)
    at = clock.now() - timedelta(days=1)
    for clerk, voids in ((over, 2), (exact, 1)):  # of 20 slips each: 10% and 5%
        for i, h in enumerate(people):
            o.slip(session, h, clerk, at, status=SlipStatus.VOIDED if i < voids else SlipStatus.ISSUED)
    _run(session)
    [flag] = _flags(session, "repeated_voids", subject_key=f"clerk:{over.id}")
    assert (flag.figure, flag.base, flag.size) == (2, 20, 2)
    assert anomalies.figures_of(flag) == "作废2张（开单20张）"
    assert _flags(session, "repeated_voids", subject_key=f"clerk:{exact.id}") == []


def _local(hour, minute=0):
    today = clock.local(clock.now()).date() - timedelta(days=1)
    return datetime(today.year, today.month, today.day, hour, minute, tzinfo=CHINA).astimezone(timezone.utc)


def test_more_than_twenty_slips_within_ten_minutes_is_a_burst_and_twenty_one_over_exactly_ten_is_not(session, demo):
    fast, steady = o.clerk(session, "fast-clerk"), o.clerk(session, "steady-clerk")
    people = o.households(session, 21)
    start = _local(10)
    fast_slips = [o.slip(session, h, fast, start + timedelta(seconds=20 * i)) for i, h in enumerate(people)]
    # the same clerk's slips an hour before and twenty minutes after the run are not part of it
    o.slip(session, people[0], fast, start - timedelta(hours=1))
    o.slip(session, people[1], fast, start + timedelta(minutes=27))
    # 21 slips 30 s apart: the first and the 21st are exactly ten minutes apart, not within them
    for i, h in enumerate(people):
        o.slip(session, h, steady, start + timedelta(seconds=30 * i))
    _run(session)
    [flag] = [x for x in _flags(session, "burst") if x.subject_key.startswith(f"clerk:{fast.id}:")]
    assert anomalies.member_ids(flag) == sorted(s.id for s in fast_slips) and flag.base == 20
    assert [x for x in _flags(session, "burst") if f"clerk:{steady.id}:" in x.subject_key] == []


def test_a_burst_across_two_ten_minute_buckets_is_found_whole_and_its_near_miss_is_not(session, demo):
    """A run of 21 slips from 10:05 lies 11 and 10 in two ten-minute buckets (xx:00, xx:10, ...), neither over the
    limit alone: a rule that counted by buckets would miss it."""
    fast, steady = o.clerk(session, "straddle-clerk"), o.clerk(session, "straddle-steady")
    people = o.households(session, 21)
    start = _local(10, 5)
    fast_slips = [o.slip(session, h, fast, start + timedelta(seconds=25 * i)) for i, h in enumerate(people)]
    for i, h in enumerate(people):  # 30 s apart: the 21st is exactly ten minutes after the first
        o.slip(session, h, steady, start + timedelta(seconds=30 * i))
    _run(session)
    [flag] = [x for x in _flags(session, "burst") if x.subject_key.startswith(f"clerk:{fast.id}:")]
    assert anomalies.member_ids(flag) == sorted(s.id for s in fast_slips) and flag.size == 21
    assert [x for x in _flags(session, "burst") if f"clerk:{steady.id}:" in x.subject_key] == []


def test_overlapping_runs_and_slips_at_one_moment_are_each_found_once_and_the_slips_between_two_runs_are_not(
        session, demo):
    """Each slip of a long run starts a run of its own (30 slips 10 s apart: 10 starts, each 20 slips ahead), and
    the rule reads each start's slips after the previous start's: every slip is in the evidence once. Slips at
    the same moment (a scanner's batch) are told apart by id, and the clerk's three lone slips in between belong
    to no run."""
    clerk = o.clerk(session, "long-run-clerk")
    people = o.households(session, 30)
    first = [o.slip(session, h, clerk, _local(9) + timedelta(seconds=10 * i)) for i, h in enumerate(people)]
    lone = [o.slip(session, h, clerk, _local(11) + timedelta(minutes=20 * i)) for i, h in enumerate(people[:3])]
    same_moment = [o.slip(session, h, clerk, _local(14)) for h in people[:22]]
    _run(session)
    [flag] = [x for x in _flags(session, "burst") if x.subject_key.startswith(f"clerk:{clerk.id}:")]
    assert anomalies.member_ids(flag) == sorted(s.id for s in first + same_moment) and flag.size == 52
    assert not set(anomalies.member_ids(flag)) & {s.id for s in lone}


def test_a_night_burst_across_midnight_is_flagged_on_both_days_and_day_slips_beside_a_night_run_do_not_count(
        session, demo):
    owl, dawn = o.clerk(session, "midnight-clerk"), o.clerk(session, "dawn-clerk")
    people = o.households(session, 4)
    before = _local(23, 56) - timedelta(days=1)
    run = [o.slip(session, h, owl, before + timedelta(minutes=2 * i)) for i, h in enumerate(people)]
    # 05:55, 05:57 and 05:59 are night, 06:01 is not: three night slips within ten minutes are no night burst
    dawn_slips = [o.slip(session, h, dawn, _local(5, 55) + timedelta(minutes=2 * i)) for i, h in enumerate(people)]
    _run(session)
    flags = {x.subject_key: anomalies.member_ids(x) for x in _flags(session, "burst")
             if f"clerk:{owl.id}:" in x.subject_key}
    assert flags == {f"night:clerk:{owl.id}:{run[0].issued_on}": sorted(s.id for s in run[:2]),
                     f"night:clerk:{owl.id}:{run[2].issued_on}": sorted(s.id for s in run[2:])}
    assert run[0].issued_on != run[2].issued_on
    assert [x for x in _flags(session, "burst") if f"clerk:{dawn.id}:" in x.subject_key] == [] and dawn_slips


def test_four_slips_within_ten_minutes_at_night_are_a_burst_and_three_are_not(session, demo):
    owl, late = o.clerk(session, "owl-clerk"), o.clerk(session, "late-clerk")
    people = o.households(session, 4)
    night = [o.slip(session, h, owl, _local(23) + timedelta(minutes=2 * i)) for i, h in enumerate(people)]
    for i, h in enumerate(people[:3]):
        o.slip(session, h, late, _local(23) + timedelta(minutes=2 * i))
    o.slip(session, people[3], late, _local(21, 55))  # 21:55 is not night: the night's run is three slips
    _run(session)
    [flag] = _flags(session, "burst", subject_key=f"night:clerk:{owl.id}:{night[0].issued_on}")
    assert anomalies.member_ids(flag) == sorted(s.id for s in night) and "夜间" in flag.subject
    assert [x for x in _flags(session, "burst") if f"clerk:{late.id}:" in x.subject_key] == []


def test_an_office_copy_unscanned_thirty_days_after_the_slip_is_flagged_and_younger_or_scanned_ones_are_not(
        session, demo):
    clerk = o.clerk(session, "scan-clerk")
    a, b, c = o.households(session, 3)
    old = clock.now() - timedelta(days=31)
    missing_town = o.slip(session, a, clerk, old, scanned=(4, 5))
    young = o.slip(session, b, clerk, clock.now() - timedelta(days=29))
    complete = o.slip(session, c, clerk, old, scanned=(3, 4, 5))
    _run(session)
    [flag] = _with(session, "unscanned_copy", [missing_town.id])
    assert flag.subject_key.startswith(f"copy:3:town:{missing_town.town_id}:") and "街道镇联" in flag.subject
    assert _with(session, "unscanned_copy", [young.id, complete.id]) == []


def test_a_standing_slip_undelivered_more_than_seven_days_after_it_was_issued_is_flagged_and_near_misses_are_not(
        session, demo):
    clerk, other = o.clerk(session, "deliver-clerk"), o.clerk(session, "deliver-clerk-b", supplier_code="coal-b")
    people = o.households(session, 6)
    eight = clock.now() - timedelta(days=8)
    late = [o.slip(session, people[0], clerk, eight), o.slip(session, people[1], clerk, eight - timedelta(hours=1))]
    elsewhere = o.slip(session, people[2], other, eight)
    near = [o.slip(session, people[3], clerk, clock.now() - timedelta(days=7)),  # exactly seven days: not yet
            o.slip(session, people[4], clerk, eight, delivered_on=clock.today() - timedelta(days=2)),
            o.slip(session, people[5], clerk, eight, status=SlipStatus.VOIDED)]
    _run(session)
    [flag] = _with(session, "undelivered", [s.id for s in late])
    assert anomalies.member_ids(flag) == sorted(s.id for s in late) and flag.member_kind == "slip"
    oldest = clock.local(eight - timedelta(hours=1)).date()
    assert flag.subject_key.startswith(f"supplier:{clerk.supplier_id}:town:{late[0].town_id}:")
    assert f"（最早{oldest.isoformat()}开具）" in flag.subject and anomalies.figures_of(flag) == "未配送2张（开单超过7天）"
    [apart] = _with(session, "undelivered", [elsewhere.id])
    assert apart.id != flag.id and anomalies.member_ids(apart) == [elsewhere.id]
    assert _with(session, "undelivered", [s.id for s in near]) == []


def test_a_delivery_recorded_later_takes_its_slip_out_and_the_last_one_clears_the_flag(session, demo):
    clerk = o.clerk(session, "deliver-later")
    a, b = o.households(session, 2)
    eight = clock.now() - timedelta(days=8)
    first, second = o.slip(session, a, clerk, eight), o.slip(session, b, clerk, eight)
    _run(session)
    [both] = _with(session, "undelivered", [first.id])
    session.add(Delivery(slip_id=first.id, supplier_id=first.supplier_id, town_id=first.town_id,
                           delivered_on=clock.today(), receiver="本人"))
    session.commit()
    _run(session)
    session.refresh(both)
    [left] = [x for x in _with(session, "undelivered", [second.id]) if x.status == "open"]
    assert both.status == "cleared" and anomalies.member_ids(left) == [second.id]
    session.add(Delivery(slip_id=second.id, supplier_id=second.supplier_id, town_id=second.town_id,
                           delivered_on=clock.today(), receiver="本人"))
    session.commit()
    _run(session)
    session.refresh(left)
    assert left.status == "cleared"


def test_a_dismissed_flag_stays_dismissed_and_a_fourth_household_raises_a_new_one(session, demo):
    drc = f.user(session, "drc")
    three, flag = _on_one_phone(session, "13811112222")
    anomalies.dismiss(session, drc, flag.id, reason="  一家三代，同一联系人  ")
    session.commit()
    assert (flag.status, flag.reason, flag.reviewed_by) == ("dismissed", "一家三代，同一联系人", drc.id)
    _run(session)
    _run(session)
    assert [(x.id, x.status) for x in _with(session, "shared_phone", [h.id for h in three])] == [
        (flag.id, "dismissed")]
    fourth = o.households(session, 1, phone="13811112222")
    _run(session)
    again = _with(session, "shared_phone", [h.id for h in three])
    assert [(x.id, x.status) for x in again][0] == (flag.id, "dismissed")
    [new] = again[1:]
    assert new.status == "open" and anomalies.member_ids(new) == sorted(h.id for h in three + fourth)
    with pytest.raises(Conflict):
        anomalies.dismiss(session, drc, flag.id, reason="再排除一次")


def test_an_open_flag_whose_evidence_went_away_is_cleared_and_opens_again_when_it_comes_back(session, demo):
    three, flag = _on_one_phone(session, "13822223333")
    three[0].phone = "13800000001"
    session.commit()
    _run(session)
    session.refresh(flag)
    assert flag.status == "cleared"
    three[0].phone = "13822223333"
    session.commit()
    _run(session)
    session.refresh(flag)
    assert flag.status == "open" and len(_with(session, "shared_phone", [h.id for h in three])) == 1


def test_confirming_opens_a_system_case_linked_to_the_first_household_and_a_second_review_is_refused(session, demo):
    drc = f.user(session, "drc")
    three, flag = _on_one_phone(session, "13833334444")
    anomalies.confirm(session, drc, flag.id, comment="电话核实为代办人")
    session.commit()
    case = session.get(Case, flag.case_id)
    assert flag.status == "confirmed" and (case.channel, case.category, case.status) == ("system", "impersonation",
                                                                                         "open")
    assert "多户共用手机号" in case.description and "13833334444" not in case.description
    links = session.execute(select(CaseLink.kind, CaseLink.target_id).where(CaseLink.case_id == case.id)).all()
    assert links == [("household", min(h.id for h in three))]
    with pytest.raises(Conflict):
        anomalies.confirm(session, drc, flag.id)
    actions = session.execute(select(AuditEntry.action).where(AuditEntry.entity == "anomaly_flag")
                              .order_by(AuditEntry.id)).scalars().all()
    assert "anomaly.confirmed" in actions and "anomaly.run" in actions


def test_only_the_bureau_reviews_and_a_dismissal_needs_its_reason(session, demo):
    three, flag = _on_one_phone(session, "13844445555")
    with pytest.raises(NotAllowed):
        anomalies.dismiss(session, f.user(session, "finance"), flag.id, reason="x")
    with pytest.raises(NotAllowed):
        anomalies.run(session, f.user(session, "auditor"))
    with pytest.raises(Refused) as refused:
        anomalies.dismiss(session, f.user(session, "drc"), flag.id, reason="   ")
    assert "reason" in refused.value.errors
    with pytest.raises(Refused):
        anomalies.list_flags(session, status="maybe")


@pytest.mark.pg_only(reason="the fork's PostgreSQL branch runs on PostgreSQL only")
def test_both_branches_of_the_fork_find_the_same_flags(engine, demo):
    with db.transaction(engine) as s:
        o.households(s, 3, phone="13855556666")
        o.households(s, 3, addresses=["西关 2组", "西关2組", "西关第二组"])
        clerk = o.clerk(s, "fork-clerk")
        people = o.households(s, 22)
        for i, h in enumerate(people):
            o.slip(s, h, clerk, _local(2) + timedelta(seconds=10 * i), status="voided" if i % 5 == 0 else "issued")
    found = {}
    for name, bind in (("pg", engine), ("portable", db.portable(engine))):
        with db.new_session(bind) as s:
            ctx = anomalies.Context(season_id=f.seasons.active_season(s).id, today=clock.today(), burst_slips=20,
                                    night_burst_slips=3, pg=db.pg_branch(s.connection()), postgres=True)
            assert ctx.pg == (name == "pg")
            found[name] = {rule: sorted(tuple(r) for r in s.execute(anomalies._flags(ctx, rule, entry)).all())
                           for rule, entry in anomalies.RULES.items()}
    assert found["pg"] == found["portable"]
    assert all(found["pg"][rule] for rule in ("shared_phone", "shared_address", "repeated_voids", "burst"))


@pytest.mark.pg_only(reason="concurrent writers are PostgreSQL's threat; SQLite has one writer at a time")
def test_two_reviewers_confirming_at_once_open_one_case_and_two_runs_at_once_run_once(engine, demo):
    with db.transaction(engine) as s:
        three = o.households(s, 3, phone="13866667777")
        anomalies.run(s)
    with db.new_session(engine) as s:
        [flag] = _with(s, "shared_phone", [h.id for h in three])
        flag_id = flag.id
    barrier = threading.Barrier(2)

    def confirm(_):
        with db.new_session(engine, write=True) as s:
            barrier.wait()
            try:
                anomalies.confirm(s, f.user(s, "drc"), flag_id)
                s.commit()
                return "confirmed"
            except Conflict:
                s.rollback()
                return "conflict"

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(confirm, range(2))) == ["confirmed", "conflict"]
    with db.new_session(engine) as s:
        assert s.execute(select(Case.id).where(Case.channel == "system")).all().__len__() == 1

    def run(_):
        with db.new_session(engine, write=True) as s:
            barrier.wait()
            result = anomalies.run(s)
            ran = result.ran
            threading.Event().wait(0.5)  # hold the lock while the other tries
            s.commit()
            return ran

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(run, range(2))) == [False, True]
