"""ID numbers (GB 11643), credit codes (GB 32100), phone numbers, and masking."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.rules.idnumbers import CREDIT_ALPHABET, InvalidCreditCode, InvalidIdNumber, InvalidPhone, credit_check_char, id_check_char, make_credit_code, make_id_number, mask_account, mask_id_number, mask_phone, validate_credit_code, validate_id_number, validate_phone

TODAY = date(2024, 11, 15)
# The worked example printed in GB 11643-1999.
STANDARD_EXAMPLE = "11010519491231002X"


# --- resident ID numbers ----------------------------------------------------------------


def test_the_example_from_the_standard_is_valid():
    assert validate_id_number(STANDARD_EXAMPLE, today=TODAY) == STANDARD_EXAMPLE


def test_a_generated_number_is_valid_and_returned_unchanged():
    number = make_id_number("370902", date(1990, 1, 1), "123")
    assert number == "370902199001011235"
    assert validate_id_number(number, today=TODAY) == number


def test_lower_case_x_is_accepted_and_returned_upper_case():
    assert validate_id_number("11010519491231002x", today=TODAY) == STANDARD_EXAMPLE


def test_spaces_and_full_width_digits_are_ignored():
    assert validate_id_number(" 110105 19491231 002X ", today=TODAY) == STANDARD_EXAMPLE
    assert validate_id_number("１１０１０５１９４９１２３１００２Ｘ", today=TODAY) == STANDARD_EXAMPLE


def test_a_wrong_check_character_is_refused():
    with pytest.raises(InvalidIdNumber, match="校验位错误"):
        validate_id_number("110105194912310021", today=TODAY)


@given(st.integers(0, 16), st.integers(1, 9))
def test_any_single_wrong_digit_is_refused(position, delta):
    number = list(make_id_number("370902", date(1985, 6, 15), "042"))
    number[position] = str((int(number[position]) + delta) % 10)
    with pytest.raises(InvalidIdNumber):
        validate_id_number("".join(number), today=TODAY)


def test_the_31st_of_february_is_refused():
    first17 = "37090219900231123"
    with pytest.raises(InvalidIdNumber, match="出生日期无效"):
        validate_id_number(first17 + id_check_char(first17), today=TODAY)


def test_a_birth_date_after_today_is_refused():
    number = make_id_number("370902", date(2024, 11, 16), "123")
    with pytest.raises(InvalidIdNumber, match="出生日期不能晚于今天"):
        validate_id_number(number, today=TODAY)
    assert validate_id_number(number, today=date(2024, 11, 16)) == number


def test_a_birth_date_before_1900_is_refused():
    number = make_id_number("370902", date(1899, 12, 31), "123")
    with pytest.raises(InvalidIdNumber, match="出生日期无效"):
        validate_id_number(number, today=TODAY)


def test_seventeen_characters_are_refused():
    with pytest.raises(InvalidIdNumber, match="应为18位"):
        validate_id_number(STANDARD_EXAMPLE[:17], today=TODAY)


def test_letters_inside_the_number_are_refused():
    with pytest.raises(InvalidIdNumber, match="前17位应为数字"):
        validate_id_number("1101051949123A002X", today=TODAY)


def test_an_x_anywhere_but_last_is_refused():
    with pytest.raises(InvalidIdNumber, match="前17位应为数字"):
        validate_id_number("X10105194912310021", today=TODAY)


def test_an_unknown_province_code_is_refused():
    number = make_id_number("990902", date(1990, 1, 1), "123")
    with pytest.raises(InvalidIdNumber, match="地区代码无效"):
        validate_id_number(number, today=TODAY)


def test_an_empty_id_number_asks_for_input():
    with pytest.raises(InvalidIdNumber, match="请输入"):
        validate_id_number("  ", today=TODAY)


def test_invalid_id_number_is_a_value_error():
    assert issubclass(InvalidIdNumber, ValueError)


# --- unified social credit codes ----------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the example used in GB 32100 explanations
        "91440300708461136T",
        "911100001000128855",
    ],
)
def test_real_credit_codes_are_valid(code):
    assert validate_credit_code(code) == code


def test_a_credit_code_is_upper_cased_and_stripped():
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_a_generated_credit_code_is_valid():
    code = make_credit_code("91370900MA3C00001")
    assert len(code) == 18
    assert validate_credit_code(code) == code


def test_a_check_character_of_zero_comes_from_a_sum_divisible_by_31():
    # 0 * weights = 0, and 31 - 0 is 31, which the standard writes as "0".
    assert credit_check_char("1" + "0" * 16) == CREDIT_ALPHABET[(31 - 1) % 31]
    assert credit_check_char("0" * 17) == "0"


def test_a_wrong_credit_check_character_is_refused():
    with pytest.raises(InvalidCreditCode, match="校验位错误"):
        validate_credit_code("91350100M000100Y44")


@given(st.integers(0, 17), st.integers(1, 30))
def test_any_single_wrong_credit_code_character_is_refused(position, delta):
    code = list("91350100M000100Y43")
    code[position] = CREDIT_ALPHABET[(CREDIT_ALPHABET.index(code[position]) + delta) % 31]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code("".join(code))


def test_letters_the_alphabet_leaves_out_are_refused():
    with pytest.raises(InvalidCreditCode, match="无效字符“O”"):
        validate_credit_code("91350100MO00100Y43")


def test_a_credit_code_of_the_wrong_length_is_refused():
    with pytest.raises(InvalidCreditCode, match="应为18位"):
        validate_credit_code("91350100M000100Y4")


def test_an_unknown_registration_authority_is_refused():
    code = make_credit_code("B1350100M000100Y4")
    with pytest.raises(InvalidCreditCode, match="登记管理部门"):
        validate_credit_code(code)


def test_a_region_code_with_letters_is_refused():
    code = make_credit_code("9135A100M000100Y4")
    with pytest.raises(InvalidCreditCode, match="行政区划码"):
        validate_credit_code(code)


# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("19912345678", "19912345678"),
        ("0538-8221234", "0538-8221234"),
        ("05388221234", "0538-8221234"),
        ("(0538)8221234", "0538-8221234"),
        ("010-62751234", "010-62751234"),
        ("02161234567", "021-61234567"),
        ("0538-82212345", "0538-82212345"),
    ],
)
def test_mobiles_and_landlines_with_area_code_are_normalised(raw, normalised):
    assert validate_phone(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "请输入"),
        ("1381234567", "应为11位"),
        ("12812345678", "手机号码格式不正确"),
        ("8221234", "请加区号"),
        ("0538-822123", "固定电话号码格式不正确"),
        ("0538-0221234", "固定电话号码格式不正确"),
        ("0538-8221234-801", "固定电话号码格式不正确"),
        ("138abcd5678", "只能包含数字"),
    ],
)
def test_bad_phone_numbers_are_refused_with_a_chinese_reason(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        validate_phone(raw)


# --- masking ------------------------------------------------------------------------------


def test_an_id_number_keeps_its_region_and_last_four():
    assert mask_id_number("370902199001011234") == "370902********1234"


def test_a_short_id_like_string_is_entirely_masked():
    assert mask_id_number("1234567890") == "**********"


def test_a_mobile_keeps_its_first_three_and_last_four():
    assert mask_phone("13812345678") == "138****5678"


def test_a_landline_keeps_its_area_code_and_last_four_behind_four_stars():
    assert mask_phone("0538-8221234") == "0538-****1234"
    assert mask_phone("010-62751234") == "010-****1234"


def test_an_account_keeps_only_its_last_four():
    assert mask_account("6222 0212 3456 7890 123") == "***************0123"
    assert mask_account("1234") == "****"
