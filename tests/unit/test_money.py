"""Money arithmetic: integers in fen and kg, rounding half up, largest-remainder splits."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.rules import money
from subsidy.rules.measures import parse_tons_to_kg, parse_yuan
from subsidy.rules.money import coal_subsidy_fen, line_amount_fen, round_half_up_div, split_largest_remainder, tiered_coal_subsidy_fen, tons, yuan

YUAN = 100  # fen per yuan

share_lists = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8).filter(
    lambda shares: sum(shares) > 0
)
totals = st.integers(min_value=0, max_value=10**12)


# --- rounding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(0, 1000, 0), (499, 1000, 0), (500, 1000, 1), (501, 1000, 1), (1500, 1000, 2), (2500, 1000, 3), (7, 2, 4)],
)
def test_round_half_up_div_rounds_halves_up(numerator, denominator, expected):
    assert round_half_up_div(numerator, denominator) == expected


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=10**6))
def test_round_half_up_div_is_within_a_half_of_the_exact_quotient(numerator, denominator):
    result = round_half_up_div(numerator, denominator)
    exact = Fraction(numerator, denominator)
    assert -Fraction(1, 2) < result - exact <= Fraction(1, 2)


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 1000), (1, 0), (1, -5)])
def test_round_half_up_div_refuses_negative_numbers_and_zero_denominator(numerator, denominator):
    with pytest.raises(ValueError):
        round_half_up_div(numerator, denominator)


def test_one_kg_at_300_yuan_per_ton_is_30_fen():
    assert coal_subsidy_fen(1, 300 * YUAN) == 30


def test_one_kg_at_1999_fen_per_ton_rounds_1_999_fen_up_to_2():
    assert coal_subsidy_fen(1, 1999) == 2


def test_half_a_fen_rounds_up_and_just_under_half_rounds_down():
    assert coal_subsidy_fen(1, 500) == 1  # 0.5 fen
    assert coal_subsidy_fen(1, 499) == 0  # 0.499 fen


def test_line_amount_of_coal_is_per_ton_and_of_stoves_per_set():
    assert line_amount_fen(2_500, 1_100 * YUAN, per_ton=True) == 2_750 * YUAN
    assert line_amount_fen(1_234, 1_001, per_ton=True) == 1_235  # 1234.234 fen
    assert line_amount_fen(2, 2_400 * YUAN, per_ton=False) == 4_800 * YUAN


# --- tiers ------------------------------------------------------------------------------

TAISHAN_TIERS = [(0, 300 * YUAN), (2_000, 150 * YUAN)]  # 300 yuan/t up to 2 t, then 150 yuan/t


def test_a_purchase_crossing_the_tier_boundary_pays_each_band_its_rate():
    # Already bought 1,500 kg; 500 kg more at 300 yuan/t and 500 kg at 150 yuan/t.
    assert tiered_coal_subsidy_fen(1_500, 1_000, TAISHAN_TIERS) == 150 * YUAN + 75 * YUAN


def test_a_purchase_entirely_below_or_above_the_boundary_pays_one_rate():
    assert tiered_coal_subsidy_fen(0, 2_000, TAISHAN_TIERS) == 600 * YUAN
    assert tiered_coal_subsidy_fen(2_000, 1_000, TAISHAN_TIERS) == 150 * YUAN
    assert tiered_coal_subsidy_fen(5_000, 1, TAISHAN_TIERS) == 15


def test_tiered_subsidy_rounds_once_for_the_whole_line_not_once_per_band():
    # 1 kg in each band at 1,500 fen/t: 1.5 + 1.5 = 3.0 fen exactly; rounding per band would give 4.
    assert tiered_coal_subsidy_fen(999, 2, [(0, 1_500), (1_000, 1_500)]) == 3
    # 1 kg in each band at 1,400 fen/t: 1.4 + 1.4 = 2.8 fen -> 3; rounding per band would give 2.
    assert tiered_coal_subsidy_fen(999, 2, [(0, 1_400), (1_000, 1_400)]) == 3


def test_buying_nothing_gives_no_subsidy():
    assert tiered_coal_subsidy_fen(1_500, 0, TAISHAN_TIERS) == 0


@given(
    st.integers(min_value=0, max_value=100_000),
    st.integers(min_value=0, max_value=100_000),
    st.integers(min_value=0, max_value=1_000_000),
)
def test_tiered_subsidy_equals_the_flat_subsidy_when_there_is_one_tier(already_kg, kg, rate):
    assert tiered_coal_subsidy_fen(already_kg, kg, [(0, rate)]) == coal_subsidy_fen(kg, rate)


@given(
    st.integers(min_value=0, max_value=20_000),
    st.integers(min_value=0, max_value=20_000),
    st.lists(st.tuples(st.integers(1, 10_000), st.integers(0, 100_000)), max_size=4),
    st.integers(0, 100_000),
)
def test_tiered_subsidy_is_the_exact_sum_over_kilograms_rounded_once(already_kg, kg, steps, first_rate):
    tiers = [(0, first_rate)]
    for gap, rate in steps:
        tiers.append((tiers[-1][0] + gap, rate))

    def rate_of(k: int) -> int:
        return [r for start, r in tiers if start <= k][-1]

    exact = Fraction(sum(rate_of(k) for k in range(already_kg, already_kg + kg)), 1000)
    result = tiered_coal_subsidy_fen(already_kg, kg, tiers)
    assert -Fraction(1, 2) < result - exact <= Fraction(1, 2)


@pytest.mark.parametrize(
    "tiers",
    [[], [(100, 300)], [(0, 300), (0, 150)], [(0, 300), (2_000, 150), (1_000, 100)], [(0, -1)]],
)
def test_malformed_tiers_are_refused(tiers):
    with pytest.raises(ValueError):
        tiered_coal_subsidy_fen(0, 100, tiers)


# --- largest remainder ------------------------------------------------------------------


@given(totals, share_lists)
def test_split_parts_add_up_to_the_total(total, shares):
    assert sum(split_largest_remainder(total, shares)) == total


@given(totals, share_lists)
def test_each_split_part_is_within_one_fen_of_its_exact_proportion(total, shares):
    parts = split_largest_remainder(total, shares)
    for part, share in zip(parts, shares):
        exact = Fraction(total * share, sum(shares))
        assert abs(part - exact) < 1


@given(totals, share_lists)
def test_a_zero_share_gets_nothing(total, shares):
    parts = split_largest_remainder(total, shares)
    assert all(part == 0 for part, share in zip(parts, shares) if share == 0)


def test_split_gives_leftover_fen_to_the_largest_remainders():
    # 100 fen as 1/6, 2/6, 3/6 -> 16.67, 33.33, 50: the first has the largest remainder.
    assert split_largest_remainder(100, [1, 2, 3]) == [17, 33, 50]


def test_split_breaks_ties_by_position_earlier_first():
    assert split_largest_remainder(1, [1, 1, 1]) == [1, 0, 0]
    assert split_largest_remainder(2, [1, 1, 1]) == [1, 1, 0]
    assert split_largest_remainder(10_001, [5_000, 5_000]) == [5_001, 5_000]


def test_split_by_basis_points_of_city_district_town():
    assert split_largest_remainder(12_345, [5_000, 3_000, 2_000]) == [6_173, 3_703, 2_469]


@pytest.mark.parametrize(("total", "shares"), [(100, []), (100, [0, 0]), (100, [5_000, -1]), (-1, [1])])
def test_split_refuses_empty_zero_sum_or_negative_input(total, shares):
    with pytest.raises(ValueError):
        split_largest_remainder(total, shares)


# --- formatting and parsing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (123_456, "1,234.56"), (100_000_000, "1,000,000.00"), (-5, "-0.05"), (-123_456, "-1,234.56")],
)
def test_yuan_formats_fen_with_thousands_separators(fen, text):
    assert yuan(fen) == text


@pytest.mark.parametrize(("kg", "text"), [(0, "0.000"), (1, "0.001"), (1_234_567, "1,234.567"), (-1_500, "-1.500")])
def test_tons_formats_kilograms_with_three_decimals(kg, text):
    assert tons(kg) == text


@pytest.mark.parametrize(
    ("text", "fen"),
    [("1100", 110_000), ("1,100.5", 110_050), ("1100.50", 110_050), (" 0.01 ", 1), ("0", 0), ("１１００．５", 110_050)],
)
def test_parse_yuan_reads_what_people_type(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(("text", "kg"), [("12", 12_000), ("1,234.5", 1_234_500), ("0.125", 125), ("0.001", 1)])
def test_parse_tons_reads_tons_into_whole_kilograms(text, kg):
    assert parse_tons_to_kg(text) == kg


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "请输入金额"),
        ("1.234", "最多保留2位小数"),
        ("-5", "不能为负数"),
        ("abc", "格式不正确"),
        ("1,10.5", "格式不正确"),
        ("1e3", "格式不正确"),
        ("1.", "格式不正确"),
        ("1100元", "格式不正确"),
    ],
)
def test_parse_yuan_refuses_bad_input_with_a_chinese_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_yuan(text)


def test_parse_tons_refuses_more_than_three_decimals():
    with pytest.raises(ValueError, match="最多保留3位小数"):
        parse_tons_to_kg("1.2345")


@given(st.integers(min_value=0, max_value=10**13))
def test_formatting_then_parsing_yuan_gives_back_the_same_fen(fen):
    assert parse_yuan(yuan(fen)) == fen


@given(st.integers(min_value=0, max_value=10**14))
def test_formatting_then_parsing_tons_gives_back_the_same_kilograms(kg):
    assert parse_tons_to_kg(tons(kg)) == kg


# --- 金额大写 -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fen, capitals", [
    (160000, "壹仟陆佰元整"),            # the example: whole yuan end in 整
    (0, "零元整"),
    (100, "壹元整"),
    (1000, "壹拾元整"),                  # 拾 always with its digit
    (1500, "壹拾伍元整"),
    (5, "伍分"),                          # no 元 before a fen-only amount, and no 整 after 分
    (50, "伍角整"),                       # 整 after 角 when there are no 分
    (56, "伍角陆分"),
    (105, "壹元零伍分"),                  # 角 zero before a non-zero 分: 元 is followed by 零
    (1010, "壹拾元零壹角整"),
    (100005, "壹仟元零伍分"),             # several zeros in a row: one 零
    (100100, "壹仟零壹元整"),
    (110000, "壹仟壹佰元整"),             # trailing zeros of the yuan: no 零 before 元
    (10700053, "壹拾万零柒仟元零伍角叁分"),  # the People's Bank's example (the variant that writes every 零)
    (1000000, "壹万元整"),
    (1000010000, "壹仟万零壹佰元整"),
    (1100100000, "壹仟壹佰万零壹仟元整"),  # a zero 万 place before a non-zero 仟: one 零, 万 not repeated
    (10000000000, "壹亿元整"),            # empty 万 section: no 万
    (10000000100, "壹亿零壹元整"),
    (100100000000, "壹拾亿零壹佰万元整"),
    (1234567890123, "壹佰贰拾叁亿肆仟伍佰陆拾柒万捌仟玖佰零壹元贰角叁分"),
    (99999999999999, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_amounts_are_written_in_chinese_capitals_by_the_rules_for_vouchers(fen, capitals):
    assert money.yuan_in_capitals(fen) == capitals


@pytest.mark.parametrize("bad", [-1, 10**14, 1.5, "100", True])
def test_capitals_refuse_what_is_not_a_sum_of_fen_they_can_write(bad):
    with pytest.raises(ValueError):
        money.yuan_in_capitals(bad)


@given(st.integers(min_value=0, max_value=money.MAX_CAPITALS_FEN))
def test_capitals_never_write_two_zeros_in_a_row_nor_end_in_zero(fen):
    text = money.yuan_in_capitals(fen)
    assert "零零" not in text and not text.rstrip("整").endswith("零") and text.endswith(("整", "分"))
    assert text.endswith("整") == (fen % 10 == 0) and ("零元" in text) == (fen == 0)


def _read_capitals(text: str) -> int:
    """A reader of capitals (independent of the writer): the fen they say."""
    digits = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
    places = {"拾": 10, "佰": 100, "仟": 1000}
    yuan_text, _, rest = text.partition("元") if "元" in text else ("", "", text)
    total, section, number = 0, 0, 0
    for ch in yuan_text:
        if ch in digits:
            number = digits[ch]
        elif ch in places:
            section += number * places[ch]
            number = 0
        elif ch == "万":
            total += (section + number) * 10**4
            section = number = 0
        elif ch == "亿":
            total = (total + section + number) * 10**8
            section = number = 0
    fen = (total + section + number) * 100
    for value, unit in zip(rest, rest[1:]):
        if value in digits and unit in "角分":
            fen += digits[value] * (10 if unit == "角" else 1)
    return fen


@given(st.integers(min_value=0, max_value=money.MAX_CAPITALS_FEN))
def test_capitals_read_back_to_the_same_amount(fen):
    assert _read_capitals(money.yuan_in_capitals(fen)) == fen
