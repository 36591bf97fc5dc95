"""Reading scaled quantities (rules/measures): one parser for percent, MJ/kg, tons, yuan and fund shares, refusing
the same things in the same words, whether typed into a form or sent as a JSON number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.core.errors import SubsidyError
from subsidy.rules import measures

PARSERS = {
    "percent": lambda v: measures.parse_percent(v, "挥发分", "volatile_pct"),
    "mj": lambda v: measures.parse_mj(v, "calorific_mj_kg"),
    "tons": lambda v: measures.parse_tons_to_kg(v, field="coal"),
    "yuan": lambda v: measures.parse_yuan(v, field="price"),
    "fund share": lambda v: measures.parse_percent_bp(v, field="funds"),
}


@pytest.mark.parametrize("parse", PARSERS.values(), ids=PARSERS.keys())
@pytest.mark.parametrize("value", [-1, "-1", "-0.5", -0.5])
def test_a_negative_number_is_refused_whether_typed_or_sent_as_json(parse, value):
    with pytest.raises(measures.InvalidMeasure, match="不能为负数") as refused:
        parse(value)
    assert refused.value.field is not None and set(refused.value.errors) == {refused.value.field}


@pytest.mark.parametrize("parse", PARSERS.values(), ids=PARSERS.keys())
@pytest.mark.parametrize("value", [10**30, "1" * 13, "abc", "1e3", float("nan"), float("inf"), None, True, ""])
def test_a_huge_or_unreadable_value_is_refused_with_a_reason(parse, value):
    with pytest.raises(measures.InvalidMeasure):
        parse(value)


def test_a_refusal_names_the_quantity_and_is_also_a_value_error_for_form_readers():
    with pytest.raises(ValueError, match="挥发分最多保留2位小数"):
        measures.parse_percent("0.455", "挥发分", "volatile_pct")
    assert issubclass(measures.InvalidMeasure, SubsidyError)


@pytest.mark.parametrize(("value", "cpct"), [("0.45", 45), (0.45, 45), ("0.450", 45), (12, 1200), ("45%", 4500),
                                             ("１２．５", 1250), (100, 10000)])
def test_a_percent_is_read_exactly_into_hundredths(value, cpct):
    assert measures.parse_percent(value, "灰分", "ash_pct") == cpct


def test_the_upper_limits_speak_of_the_unit():
    with pytest.raises(measures.InvalidMeasure, match="不能超过100%"):
        measures.parse_percent("100.01", "全硫", "sulfur_pct")
    with pytest.raises(measures.InvalidMeasure, match="请核对单位"):
        measures.parse_mj("24500")
    assert measures.parse_mj("40") == 40_000 and measures.parse_mj(24.5) == 24_500


@given(st.integers(0, 10**14 - 1), st.sampled_from([2, 3]))  # at most 12 whole digits, the parser's bound
def test_any_scaled_value_written_with_its_decimals_reads_back(scaled, places):
    whole, frac = divmod(scaled, 10**places)
    assert measures.parse_decimal(f"{whole}.{frac:0{places}d}", places=places, label="数量") == scaled
