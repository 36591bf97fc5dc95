"""Case deadlines per category in the season's policy (both backends): the default of 7 days, the policy's days used
when a case is opened (and not moved for cases opened earlier), every wrong value refused by its field with nothing
written, only the bureau setting them, and the database's own CHECK and uniqueness."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from subsidy.core import audit_text
from subsidy.core.errors import NotAllowed, Refused
from subsidy.models import AuditEntry, CaseDeadline
from subsidy.oversight import cases
from subsidy.policy.seasons import active_season
from tests.factories import sales as f

OPENED = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 on 1 December in China


def _open(session, category):
    return cases.open_case(session, None, channel="hotline", category=category, description="来电反映")


def test_without_a_policy_every_category_has_seven_days(session, demo, frozen):
    frozen(OPENED)
    season = active_season(session)
    assert set(cases.deadline_days(session, season.id).values()) == {7}
    assert len(cases.deadline_days(session, season.id)) == 7
    assert _open(session, "quality").deadline == date(2026, 12, 8)


def test_the_policys_days_decide_a_new_cases_deadline_and_earlier_cases_keep_theirs(session, demo, frozen):
    frozen(OPENED)
    drc, season = f.user(session, "drc"), active_season(session)
    earlier = _open(session, "quality")
    saved = cases.save_deadlines(session, drc, season.id, {"quality": "3", "short_weight": 10, "other": ""})
    session.commit()
    assert saved["quality"] == 3 and saved["short_weight"] == 10 and saved["other"] == 7 and saved["price"] == 7
    assert cases.deadline_days(session, season.id) == saved
    assert _open(session, "quality").deadline == date(2026, 12, 4)
    assert _open(session, "short_weight").deadline == date(2026, 12, 11)
    assert _open(session, "price").deadline == date(2026, 12, 8)
    session.commit()
    session.refresh(earlier)
    assert earlier.deadline == date(2026, 12, 8)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "case.deadlines_saved")).scalar_one()
    sentence = audit_text.describe(session, [entry])[0].sentence
    assert "劣质煤3天" in sentence and "短斤少两10天" in sentence


def test_saving_again_replaces_the_days(session, demo):
    drc, season = f.user(session, "drc"), active_season(session)
    cases.save_deadlines(session, drc, season.id, {"quality": "3"})
    cases.save_deadlines(session, drc, season.id, {"price": "12"})
    session.commit()
    days = cases.deadline_days(session, season.id)
    assert (days["quality"], days["price"]) == (7, 12)
    assert len(session.execute(select(CaseDeadline).where(CaseDeadline.season_id == season.id)).all()) == 7


@pytest.mark.parametrize("value", ["0", "366", "abc", "-1", "1.5", "３", 0, True])
def test_a_wrong_number_of_days_is_refused_by_its_field_and_nothing_is_written(session, demo, value):
    drc, season = f.user(session, "drc"), active_season(session)
    cases.save_deadlines(session, drc, season.id, {"service": "9"})
    session.commit()
    with pytest.raises(Refused) as refused:
        cases.save_deadlines(session, drc, season.id, {"quality": value, "service": "4"})
    assert set(refused.value.errors) == {"deadline_quality"} and "劣质煤" in refused.value.errors["deadline_quality"]
    session.rollback()
    assert cases.deadline_days(session, season.id)["service"] == 9


def test_an_unknown_category_is_refused(session, demo):
    drc, season = f.user(session, "drc"), active_season(session)
    with pytest.raises(Refused) as refused:
        cases.save_deadlines(session, drc, season.id, {"noise": "3"})
    assert set(refused.value.errors) == {"deadlines"} and "未知的问题类别" in refused.value.errors["deadlines"]


@pytest.mark.parametrize("username", ["finance", "auditor", "caiyuan"])
def test_only_the_bureau_sets_deadlines(session, demo, username):
    with pytest.raises(NotAllowed):
        cases.save_deadlines(session, f.user(session, username), active_season(session).id, {"quality": "3"})


@pytest.mark.parametrize("days", [0, -3, 366])
def test_the_database_refuses_days_out_of_range(session, demo, days):
    season = active_season(session)
    with pytest.raises(IntegrityError):
        session.execute(insert(CaseDeadline).values(season_id=season.id, category="quality", days=days))
        session.flush()


def test_the_database_keeps_one_row_per_season_and_category(session, demo):
    season = active_season(session)
    session.execute(insert(CaseDeadline).values(season_id=season.id, category="quality", days=3))
    with pytest.raises(IntegrityError):
        session.execute(insert(CaseDeadline).values(season_id=season.id, category="quality", days=4))
        session.flush()
