"""Validation of a household as typed by a village clerk: reasons in Chinese, per field."""

from __future__ import annotations

from datetime import date

import pytest

from subsidy.core.errors import SubsidyError
from subsidy.registry.households import HouseholdInput, clean_name, validate_household
from subsidy.rules.idnumbers import make_id_number

TODAY = date(2026, 11, 23)
VALID = make_id_number("370902", date(1975, 3, 14), "123")


def household(**overrides) -> HouseholdInput:
    values = dict(head_name="李秀英", id_number=VALID, phone="13905381234", address="东关村1组2号",
                  category="ordinary")
    values.update(overrides)
    return HouseholdInput(**values)


def refusal(**overrides) -> dict[str, str]:
    with pytest.raises(SubsidyError) as refused:
        validate_household(household(**overrides), TODAY)
    return refused.value.errors


def test_a_valid_household_is_normalised_lower_case_x_stored_upper_case():
    first17 = "11010519491231002"
    clean = validate_household(household(id_number=first17 + "x", phone="0538 822 1234", category="低保"), TODAY)
    assert clean.id_number == first17 + "X"
    assert clean.phone == "0538-8221234"
    assert clean.category == "low_income"


@pytest.mark.parametrize("id_number, reason", [
    (VALID[:17] + ("0" if VALID[17] != "0" else "1"), "身份证号码校验位错误，请核对"),
    ("37090219750231" + "123" + "0", "身份证号码的出生日期无效"),  # 31 February
    (make_id_number("370902", date(2027, 1, 1), "123"), "出生日期不能晚于今天"),
    (VALID[:17], "身份证号码应为18位（当前为17位）"),
    ("37090219750314AB23", "身份证号码前17位应为数字"),
    ("", "请输入身份证号码"),
])
def test_invalid_id_numbers_are_refused_with_the_reason(id_number, reason):
    assert refusal(id_number=id_number)["id_number"] == reason


def test_a_31_february_is_refused_even_with_a_correct_check_character():
    from subsidy.rules.idnumbers import id_check_char

    first17 = "37090219750231123"
    assert refusal(id_number=first17 + id_check_char(first17))["id_number"] == "身份证号码的出生日期无效"


@pytest.mark.parametrize("name", ["王", "王" * 21, "Wang3", "王 Wang", "张@三"])
def test_names_that_are_not_2_to_20_chinese_or_latin_letters_are_refused(name):
    assert "户主姓名" in refusal(head_name=name)["head_name"]


@pytest.mark.parametrize("typed, stored", [("阿依古丽·买买提", "阿依古丽·买买提"), ("阿依古丽•买买提", "阿依古丽·买买提"),
                                           ("John Smith", "John Smith"), ("  欧阳  ", "欧阳")])
def test_chinese_names_with_a_middle_dot_and_latin_names_are_accepted(typed, stored):
    assert clean_name(typed) == stored


def test_every_bad_field_gets_its_own_reason():
    errors = refusal(head_name="", phone="12345", address=" ", category="富户")
    assert errors["head_name"] == "请填写户主姓名"
    assert "手机号码" in errors["phone"]
    assert errors["address"] == "请填写住址"
    assert errors["category"] == "户类别应为：普通 / 低保 / 五保 / 建档立卡"
