"""Season policy: fund shares, one active season, rate cells with tiers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError

from subsidy.policy import seasons
from subsidy.core.errors import SubsidyError
from subsidy.models import Product, Season


def policy(**overrides) -> seasons.PolicyInput:
    values = dict(name="2027—2028采暖季", code="27", starts_on=date(2027, 11, 1), ends_on=date(2028, 3, 31),
                  notice_days=7, cap_coal_kg=3000, cap_stoves=1, stove_once_ever=True,
                  rates=seasons.flat_rates(30000, 40000), funds=[("city", 5000), ("district", 5000)])
    values.update(overrides)
    return seasons.PolicyInput(**values)


def test_fund_shares_that_do_not_add_up_to_100_percent_are_refused_with_a_message(demo, session):
    with pytest.raises(SubsidyError) as refused:
        seasons.save_policy(session, None, policy(funds=[("city", 5000), ("district", 4000)]))
    assert refused.value.errors["funds"] == "各级资金比例合计须为100%，现为90%"


def test_a_valid_policy_is_saved_with_its_rates_and_funds(demo, session):
    season = seasons.save_policy(session, None, policy())
    session.commit()
    assert len(seasons.funds_of(session, season.id)) == 2
    assert seasons.rate_table(session, season.id)[("stove", "ordinary")] == [seasons.Tier(0, 40000)]


def test_only_one_season_can_be_active(demo, session):
    season = seasons.save_policy(session, None, policy())
    seasons.activate(session, None, season)
    session.commit()
    assert [s.id for s in session.query(Season).filter(Season.is_active)] == [season.id]
    other = session.query(Season).filter(Season.id != season.id).first()
    other.is_active = True
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_tiered_rate_cell_is_parsed_into_kg_tiers():
    assert seasons.parse_rate("0:300, 2:150", Product.BRIQUETTE) == [seasons.Tier(0, 30000), seasons.Tier(2000, 15000)]
    assert seasons.parse_rate("400", Product.STOVE) == [seasons.Tier(0, 40000)]
    with pytest.raises(SubsidyError):
        seasons.parse_rate("1:300", Product.BRIQUETTE)
    with pytest.raises(SubsidyError):
        seasons.parse_rate("0:300, 2:150", Product.STOVE)
