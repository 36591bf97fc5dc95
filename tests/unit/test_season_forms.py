"""Reading the season policy page: percents to basis points, rate cells back and forth."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from subsidy.policy import seasons
from subsidy.rules import measures
from subsidy.core.errors import SubsidyError
from subsidy.models import Product
from tests.factories.accounts import policy_form


@pytest.mark.parametrize("text, bp", [("50", 5000), ("33.33", 3333), ("0.5", 50), ("100%", 10000), (" 12.3 ", 1230)])
def test_a_percent_with_up_to_two_decimals_becomes_basis_points(text, bp):
    assert measures.parse_percent_bp(text) == bp


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "1,5"])
def test_a_percent_that_is_not_a_plain_number_is_refused(text):
    with pytest.raises(SubsidyError):
        measures.parse_percent_bp(text)


@given(st.integers(0, 10000))
def test_basis_points_survive_the_trip_through_the_page(bp):
    assert measures.parse_percent_bp(seasons.format_percent_bp(bp)) == bp


@given(st.lists(st.tuples(st.integers(1, 50_000), st.integers(0, 10_000_00)), max_size=4, unique_by=lambda t: t[0]),
       st.integers(0, 10_000_00))
def test_a_rate_cell_reads_back_what_it_shows(upper, first_rate):
    tiers = sorted([seasons.Tier(0, first_rate)] + [seasons.Tier(kg, fen) for kg, fen in upper],
                   key=lambda t: t.from_kg)
    assert seasons.parse_rate(seasons.format_rate(tiers), Product.BRIQUETTE) == tiers


def test_a_rate_cell_that_is_not_money_is_a_refusal_not_a_crash():
    with pytest.raises(SubsidyError, match="金额格式不正确"):
        seasons.parse_rate("abc", Product.STOVE)


def test_the_policy_form_reports_the_fund_total_first():
    with pytest.raises(SubsidyError) as refused:
        seasons.policy_from_form(policy_form(fund_city="60", fund_district="30", notice_days="x"))
    assert refused.value.message == "各级资金比例合计须为100%，现为90%"
    assert set(refused.value.errors) == {"funds", "notice_days"}


def test_a_zero_share_is_refused_rather_than_silently_dropped():
    with pytest.raises(SubsidyError) as refused:
        seasons.policy_from_form(policy_form(fund_city="0", fund_district="100"))
    assert "须大于0" in refused.value.errors["funds"]
