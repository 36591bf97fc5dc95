"""The registry's rules on a real database: one ID number per district, caps, ban zones, the notice period, the
town's decisions, and the scope of a village."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from subsidy.core import clock, db
from subsidy.registry import households
from subsidy.core.errors import Conflict, NotAllowed, NotFound, SubsidyError
from subsidy.models import AuditEntry, Household, Registration, Season
from subsidy.core.scope import Scope
from tests.factories.registry import household_input, user, village


def scoped(engine, session, username, write=False):
    """(the demo user, a write session in their scope). Reads with a short session of its own, so that the test's
    unscoped `session` holds no SQLite write lock while the scoped one writes."""
    reader = db.new_session(engine)
    try:
        actor = user(reader, username)
        reader.expunge(actor)
    finally:
        reader.close()
    return actor, db.new_session(engine, write=write, scope=Scope.of(actor))


def village_id(engine, code):
    reader = db.new_session(engine)
    try:
        return village(reader, code).id
    finally:
        reader.close()


def test_an_id_number_is_registered_once_in_the_district_even_from_another_village(demo, engine, session):
    dongguan, first = scoped(engine, session, "dongguan")
    data = household_input()
    made = households.register_household(first, dongguan, dongguan.village_id, data)
    first.commit()
    yingxi, second = scoped(engine, session, "yingxi")
    with pytest.raises(Conflict) as refused:
        households.register_household(second, yingxi, yingxi.village_id, household_input(id_number=data.id_number))
    assert refused.value.existing_id == made.id and refused.value.existing_village is None
    assert "东关村" not in refused.value.message and "财源街道" not in refused.value.message  # not yingxi's care
    first.close(), second.close()


def test_a_duplicate_names_the_holders_village_only_within_the_callers_scope(demo, engine, session):
    dongguan, first = scoped(engine, session, "dongguan")
    made = households.register_household(first, dongguan, dongguan.village_id, household_input(address="一组1号"))
    first.commit()
    with pytest.raises(Conflict) as own_village:
        households.register_household(first, dongguan, dongguan.village_id,
                                      household_input(id_number=made.id_number, address="一组1号"))
    assert "东关村" in own_village.value.message and own_village.value.existing_village == "东关村"
    xiguan, second = scoped(engine, session, "xiguan")  # the same town, another village: outside xiguan's care
    with pytest.raises(Conflict) as next_door:
        households.register_household(second, xiguan, xiguan.village_id,
                                      household_input(id_number=made.id_number, address="一组1号"))
    assert "东关村" not in next_door.value.message and (next_door.value.existing_id, next_door.value.existing_village) == (made.id, None)
    first.close(), second.close()


def test_a_lower_case_x_is_the_same_id_number_as_its_upper_case(demo, engine, session):
    dongguan, s = scoped(engine, session, "dongguan")
    households.register_household(s, dongguan, dongguan.village_id, household_input(id_number="11010519491231002X"))
    with pytest.raises(Conflict):
        households.register_household(s, dongguan, dongguan.village_id,
                                      household_input(id_number="11010519491231002x"))
    s.close()


def test_a_village_user_cannot_see_or_edit_another_villages_household(demo, engine, session):
    yingxi_hh = session.execute(select(Household).where(Household.village_id == village_id(engine, "yingxi"))
                                ).scalars().first()
    other_id, other_village = yingxi_hh.id, yingxi_hh.village_id
    session.rollback()
    dongguan, s = scoped(engine, session, "dongguan")
    with pytest.raises(NotFound):
        households.household(s, other_id)
    with pytest.raises(NotFound):
        households.edit_household(s, dongguan, other_id, household_input())
    with pytest.raises(NotFound):
        households.register_household(s, dongguan, other_village, household_input())
    assert all(h.village_id == dongguan.village_id for h in households.list_households(s).items)
    s.close()


def test_only_the_village_registers_and_only_the_town_decides(demo, engine, session):
    town, s = scoped(engine, session, "caiyuan")
    with pytest.raises(NotAllowed):
        households.register_household(s, town, village_id(engine, "dongguan"), household_input())
    dongguan, v = scoped(engine, session, "dongguan")
    reg = v.execute(select(Registration).where(Registration.status == "noticed")).scalars().first()
    with pytest.raises(NotAllowed):
        households.approve(v, dongguan, reg.id)
    s.close(), v.close()


def _fresh_household(engine, session, username="dongguan", **overrides):
    actor, s = scoped(engine, session, username)
    made = households.register_household(s, actor, actor.village_id, household_input(**overrides))
    return actor, s, made


def test_coal_above_the_seasons_cap_and_too_many_stoves_are_refused(demo, engine, session):
    actor, s, made = _fresh_household(engine, session)
    with pytest.raises(SubsidyError) as refused:
        households.register_purchase(s, actor, made.id, 3001, 2)
    assert refused.value.errors["coal_kg"] == "洁净煤超过本采暖季每户上限3吨"
    assert refused.value.errors["stoves"] == "炉具超过本采暖季每户上限1台"
    reg = households.register_purchase(s, actor, made.id, 3000, 1)
    assert (reg.status, reg.coal_kg, reg.stoves) == ("registered", 3000, 1)
    s.close()


def test_a_household_registers_once_per_season(demo, engine, session):
    actor, s, made = _fresh_household(engine, session)
    households.register_purchase(s, actor, made.id, 1000, 0)
    with pytest.raises(Conflict):
        households.register_purchase(s, actor, made.id, 500, 0)
    s.close()


def test_no_coal_for_a_household_in_a_ban_village(demo, engine, session):
    actor, s, made = _fresh_household(engine, session, "huanshan", address="环山村1组1号")
    with pytest.raises(SubsidyError) as refused:
        households.register_purchase(s, actor, made.id, 500, 0)
    assert refused.value.errors["coal_kg"] == "环山村位于禁煤区，不能登记购买洁净煤"
    s.close()


def _set_notice_days(session, days):
    season = session.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
    season.notice_days = days
    session.commit()


def test_the_town_approves_only_after_the_notice_period_has_ended(demo, engine, session, frozen):
    _set_notice_days(session, 7)
    frozen(datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))
    actor, s, made = _fresh_household(engine, session)
    reg = households.register_purchase(s, actor, made.id, 2000, 1)
    notice, count = households.publish_notice(s, actor, actor.village_id, "村委会")
    s.commit()
    assert count == 3  # ours and the demo's two still-registered ones
    assert (notice.published_on.isoformat(), notice.ends_on.isoformat()) == ("2026-11-23", "2026-11-30")
    town, t = scoped(engine, session, "caiyuan")
    with pytest.raises(Conflict) as early:
        households.approve(t, town, reg.id)
    assert "公示期满后才能审核" in early.value.message
    t.rollback()
    clock.advance(timedelta(days=7))
    assert households.approve(t, town, reg.id).status == "approved"
    t.commit()
    with pytest.raises(Conflict):
        households.approve(t, town, reg.id)
    s.close(), t.close()


def test_publishing_with_nothing_registered_is_refused(demo, engine, session):
    actor, s = scoped(engine, session, "dongguan")
    households.publish_notice(s, actor, actor.village_id)
    with pytest.raises(SubsidyError) as refused:
        households.publish_notice(s, actor, actor.village_id)
    assert refused.value.message == "本村（社区）没有待公示的登记"
    s.close()


def test_a_rejection_needs_a_reason_and_keeps_it(demo, engine, session):
    town, t = scoped(engine, session, "caiyuan")
    reg = t.execute(select(Registration).where(Registration.status == "noticed")).scalars().first()
    with pytest.raises(SubsidyError):
        households.reject(t, town, reg.id, "  ")
    done = households.reject(t, town, reg.id, "经公示有异议，非本村常住户")
    assert (done.status, done.reject_reason) == ("rejected", "经公示有异议，非本村常住户")
    t.commit()
    entries = t.execute(select(AuditEntry).where(AuditEntry.action == "registration.rejected")
                        .execution_options(unscoped=True)).scalars().all()
    assert len(entries) == 1 and '"status":"noticed"' in entries[0].before
    t.close()


def test_approve_all_takes_only_the_towns_noticed_registrations_whose_period_ended(demo, engine, session, frozen):
    frozen(datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))
    _set_notice_days(session, 7)
    dongguan, v = scoped(engine, session, "dongguan")
    _, v2, made = _fresh_household(engine, session)
    households.register_purchase(v2, dongguan, made.id, 1000, 0)
    households.publish_notice(v2, dongguan, dongguan.village_id)  # ends in 7 days
    v2.commit()
    town, t = scoped(engine, session, "caiyuan")
    noticed = lambda: session.execute(select(Registration.village_id, func.count()).where(
        Registration.status == "noticed").group_by(Registration.village_id)).all()
    before = dict(noticed())
    session.rollback()
    # The demo's noticed ones (2 per village, 4 in the town) were on a notice that ended when the season opened.
    approved = households.approve_all_due(t, town)
    t.commit()
    assert approved == 4
    clock.advance(timedelta(days=7))
    approved = households.approve_all_due(t, town)
    t.commit()
    session.expire_all()
    assert approved == 3
    after = dict(noticed())
    assert after.get(dongguan.village_id, 0) == before[dongguan.village_id] - 2 - 3
    yingxi = village_id(engine, "yingxi")
    assert after[yingxi] == before[yingxi]  # another town's village is untouched
    v.close(), v2.close(), t.close()


def test_two_clerks_deciding_the_same_registration_at_once_decide_it_once(demo, engine, session):
    actor, s, made = _fresh_household(engine, session)
    reg = households.register_purchase(s, actor, made.id, 1000, 0)
    households.publish_notice(s, actor, actor.village_id)
    s.commit()
    outcomes = []
    barrier = threading.Barrier(4)

    def decide(i):
        town, t = scoped(engine, None, "caiyuan", write=True)
        barrier.wait()
        try:
            if i % 2:
                db.run_in_transaction(t, lambda: households.approve(t, town, reg.id))
            else:
                db.run_in_transaction(t, lambda: households.reject(t, town, reg.id, "重复"))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            t.close()

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
    decided = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.entity == "registration", AuditEntry.entity_id == str(reg.id),
        AuditEntry.action.in_(["registration.approved", "registration.rejected"]))).scalar_one()
    assert decided == 1
    s.close()


def test_search_finds_by_name_id_number_and_phone_within_scope(demo, engine, session):
    actor, s, made = _fresh_household(engine, session, head_name="欧阳春梅", phone="13712345678")
    s.commit()
    assert [h.id for h in households.list_households(s, q="欧阳").items] == [made.id]
    assert [h.id for h in households.list_households(s, q=made.id_number.lower()).items] == [made.id]
    assert [h.id for h in households.list_households(s, q="137-1234-5678").items] == [made.id]
    _, other = scoped(engine, session, "yingxi")
    assert households.list_households(other, q=made.id_number).total == 0
    s.close(), other.close()


def test_the_history_shows_the_edits_and_registrations_of_a_household(demo, engine, session):
    actor, s, made = _fresh_household(engine, session)
    households.edit_household(s, actor, made.id, household_input(id_number=made.id_number, address="东关村9组1号"))
    households.register_purchase(s, actor, made.id, 1500, 0)
    s.commit()
    found, registrations, entries = households.history(s, made.id)
    assert found.address == "东关村9组1号"
    assert [e.action for e in entries] == ["household.registered", "household.edited", "registration.created"]
    assert made.id_number not in "".join(e.before + e.after for e in entries)  # masked in the log
    s.close()


def test_counts_by_village_and_town_add_up(demo, engine, session):
    _, s = scoped(engine, session, "drc")
    by_village, by_town = households.counts(s)
    assert sum(c.total for c in by_village) == sum(c.total for c in by_town) == \
        session.execute(select(func.count()).select_from(Registration)).scalar_one()
    caiyuan = next(c for c in by_town if c.town == "财源街道")
    assert caiyuan.by_status == {"approved": 4, "noticed": 4, "registered": 4}
    _, t = scoped(engine, session, "caiyuan")
    assert {c.town for c in households.counts(t)[1]} == {"财源街道"}
    s.close(), t.close()
