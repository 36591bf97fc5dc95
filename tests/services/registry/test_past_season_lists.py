"""The registrations and slips lists of a past season: each list, count and export takes the season asked for and
defaults to the active one, in the caller's scope as ever."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.core.errors import NotFound
from subsidy.core.scope import Scope
from subsidy.models import Season
from subsidy.registry import households
from subsidy.sales import listing
from tests.factories.registry import user
from tests.factories.settlement import approved_registrations, make_slip, past_season_with_a_sale, supplier


@pytest.fixture
def last_season(engine, demo):
    """A season a year before the demo's, with one approved registration (a dongguan household) and one slip."""
    with db.transaction(engine) as s:
        last, registration, slip = past_season_with_a_sale(s, 1200, coal_kg=2000)
        active = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        current = approved_registrations(s, "dongguan")[0]
        make_slip(s, supplier=supplier(s, "coal-a"), registration=current, issued_on=clock.today(), coal_kg=300)
        return {"season": last.id, "active": active.id, "registration": registration.id, "slip": slip.number}


def _as(engine, username):
    with db.new_session(engine) as s:
        me = user(s, username)
    return db.new_session(engine, scope=Scope.of(me))


def test_the_registrations_of_a_past_season_are_listed_counted_and_iterated(engine, last_season):
    with _as(engine, "auditor") as s:
        past = households.list_registrations(s, season_id=last_season["season"])
        assert [r.registration.id for r in past.items] == [last_season["registration"]]
        assert [r.registration.id for r in households.iter_registrations(s, season_id=last_season["season"])] \
            == [last_season["registration"]]
        by_village, by_town = households.counts(s, last_season["season"])
        assert sum(c.total for c in by_town) == 1 and by_town[0].coal_kg == 2000
        active = households.list_registrations(s)
        assert last_season["registration"] not in {r.registration.id for r in active.items}
        assert all(r.registration.season_id == last_season["active"] for r in households.iter_registrations(s))
        assert sum(c.total for c in households.counts(s)[1]) > 1
        with pytest.raises(NotFound):
            households.counts(s, 999_999)


def test_a_past_seasons_registrations_stay_in_the_callers_scope(engine, last_season):
    with _as(engine, "yingxi") as s:  # another town's village
        assert households.list_registrations(s, season_id=last_season["season"]).items == []
        assert households.counts(s, last_season["season"]) == ([], [])


def test_the_slips_of_a_past_season_and_by_default_the_active_ones(engine, last_season):
    with _as(engine, "auditor") as s:
        past = listing.list_slips(s, listing.SlipFilter(season_id=last_season["season"]))
        assert [x.number for x in past.items] == [last_season["slip"]]
        assert [x.number for x in listing.iter_slips(s, listing.SlipFilter(season_id=last_season["season"]))] \
            == [last_season["slip"]]
        now = [x for x in listing.iter_slips(s, listing.SlipFilter())]
        assert now and all(x.season_id == last_season["active"] for x in now)
        with pytest.raises(NotFound):
            listing.list_slips(s, listing.SlipFilter(season_id=999_999))
