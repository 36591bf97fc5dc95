"""Users, seasons and targets as services, including two DRC clerks activating seasons at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from subsidy.accounts import auth, users
from subsidy.core import clock, db
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, SubsidyError
from subsidy.models import ApiToken, Season, User
from tests.factories import accounts as factories


def test_a_generated_temporary_password_passes_the_password_policy():
    for _ in range(50):
        auth.check_password_policy(users.temporary_password(), "someone")


def test_a_user_is_created_only_with_the_scope_of_its_role(demo, session):
    with pytest.raises(SubsidyError) as refused:
        users.create_user(session, None, username="x1", role="supplier", password="Temp1234x",
                          display_name="刘一")
    assert refused.value.errors == {"supplier_id": "企业用户须选择所属配送企业"}
    user = factories.town_user(session, "clerk9", "taiqian")
    assert user.town_id and user.village_id is None and user.must_change_password


def test_disabling_revokes_tokens_and_unlocking_lifts_a_lockout(demo, session):
    drc = session.execute(select(User).where(User.username == "drc")).scalar_one()
    auth.issue_token(session, drc)
    drc.locked_until = clock.now() + timedelta(minutes=10)
    session.commit()
    assert users.is_locked(drc)
    users.unlock(session, None, drc.id)
    users.set_active(session, None, drc.id, False)
    session.commit()
    assert not users.is_locked(drc) and not drc.is_active
    assert all(t.revoked_at is not None for t in session.execute(
        select(ApiToken).where(ApiToken.user_id == drc.id)).scalars())


def test_targets_are_refused_whole_when_one_town_is_wrong(demo, session):
    season = seasons.active_season(session)
    before = {t: (v.coal_kg, v.stoves) for t, v in seasons.targets_of(session, season.id).items()}
    some_town = next(iter(before))
    with pytest.raises(SubsidyError) as refused:
        seasons.set_targets(session, None, season.id, {f"coal_{some_town}": "5", f"stoves_{some_town}": "-1"})
    assert f"stoves_{some_town}" in refused.value.errors
    session.rollback()
    assert {t: (v.coal_kg, v.stoves) for t, v in seasons.targets_of(session, season.id).items()} == before


def test_two_clerks_activating_different_seasons_at_once_leave_exactly_one_active(demo, engine):
    with db.transaction(engine) as s:
        ids = [factories.season(s, code=code, name=f"采暖季{code}").id for code in ("31", "32")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def activate(season_id: int) -> None:
        session = db.new_session(engine, write=True)
        try:
            barrier.wait(timeout=10)
            db.run_in_transaction(session, lambda: seasons.activate_by_id(session, None, season_id))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            session.close()

    threads = [threading.Thread(target=activate, args=(season_id,)) for season_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert "ok" in outcomes and len(outcomes) == 2
    with db.new_session(engine) as s:
        active = s.execute(select(Season.id).where(Season.is_active.is_(True))).scalars().all()
    assert len(active) == 1 and active[0] in ids
