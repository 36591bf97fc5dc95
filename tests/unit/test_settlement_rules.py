"""Pure rules of the settlement area: months, statement numbers, the fund split of a statement."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.reports import progress
from subsidy.core.errors import SubsidyError
from subsidy.rules.money import split_largest_remainder
from subsidy.models import Role, SummaryStatus
from subsidy.settlement import statements, summaries
from subsidy.rules import months


@st.composite
def fund_shares(draw):
    """1 to 4 funds with positive basis points adding up to 10000, as a season's policy must."""
    count = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=count - 1, max_size=count - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    return [b - a for a, b in zip(bounds, bounds[1:])]


@given(subsidy=st.integers(0, 10**12), shares=fund_shares())
def test_a_statements_fund_split_always_adds_up_to_the_fen(subsidy, shares):
    parts = split_largest_remainder(subsidy, shares)
    assert sum(parts) == subsidy
    for part, share in zip(parts, shares):
        assert abs(part * 10000 - subsidy * share) < 10000  # within one fen of the exact share


def test_an_odd_fen_between_two_equal_funds_goes_to_the_first():
    assert split_largest_remainder(100001, [5000, 5000]) == [50001, 50000]
    assert split_largest_remainder(1, [3333, 3333, 3334]) == [0, 0, 1]


def test_months_are_read_leniently_and_bounded_by_china_dates():
    assert months.parse_month("2026-2") == "2026-02"
    assert months.month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    with pytest.raises(SubsidyError):
        months.parse_month("2026/13")


def test_the_statement_number_names_the_supplier_and_month():
    assert statements.statement_number("coal-a", "2026-11") == "JS-COAL-A-202611"


def test_a_supplementary_statement_number_adds_its_sequence_and_a_long_code_gives_way():
    assert statements.statement_number("coal-a", "2026-11", 2) == "JS-COAL-A-202611-2"
    long_code = "a-very-long-supplier-code-of-32c"
    assert statements.statement_number(long_code, "2026-11", 12).endswith("-202611-12")
    assert len(statements.statement_number(long_code, "2026-11", 12)) == 32


def test_the_review_chain_goes_town_then_bureau_then_finance():
    assert summaries.TURN == {SummaryStatus.SUBMITTED: Role.TOWN, SummaryStatus.TOWN_APPROVED: Role.DRC,
                               SummaryStatus.DRC_APPROVED: Role.FINANCE}


def test_the_monthly_report_is_due_on_the_23rd_of_its_month():
    assert progress.due_date("2026-12") == date(2026, 12, 23)
