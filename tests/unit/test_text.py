"""Free text as people type it: control characters and non-characters refused, with the field named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy.core.errors import SubsidyError
from subsidy.rules.text import UNWANTED, clean_text, clean_text_into, without_unwanted

# Every code point the rule refuses, listed by hand from its statement (not from the pattern under test).
REFUSED = ([chr(c) for c in range(0x00, 0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
           + [chr(c) for c in range(0xFDD0, 0xFDF0)]
           + [chr(plane << 16 | last) for plane in range(17) for last in (0xFFFE, 0xFFFF)]
           + ["\ud800", "\udfff"])


@pytest.mark.parametrize("bad", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_character_and_non_character_is_refused_anywhere_in_the_text(bad):
    for value in (bad, f"东关村{bad}3组", f"{bad}东关村", f"东关村{bad}"):
        with pytest.raises(SubsidyError) as refused:
            clean_text(value, "address", 200, label="住址")
        assert refused.value.errors == {"address": refused.value.message}
        assert "住址" in refused.value.message and f"U+{ord(bad):04X}" in refused.value.message


@settings(deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"),
                                      blacklist_characters="\ufffe\uffff"), max_size=50))
def test_text_without_unwanted_characters_is_kept_as_typed_but_for_surrounding_spaces(value):
    if UNWANTED.search(value):  # a non-character of another plane or U+FDD0..U+FDEF: refused, checked above
        return
    assert clean_text(value, "note", 50, label="备注") == value.strip()


@settings(deadline=None)
@given(st.text(max_size=60))
def test_whatever_is_typed_is_either_refused_or_clean(value):
    try:
        cleaned = clean_text(value, "note", 60, label="备注")
    except SubsidyError:
        return
    assert without_unwanted(cleaned) == cleaned


def test_a_long_text_is_refused_not_cut():
    assert clean_text("一" * 20, "reason", 20, label="作废原因") == "一" * 20
    with pytest.raises(SubsidyError, match="作废原因不能超过20个字"):
        clean_text("一" * 21, "reason", 20, label="作废原因")


def test_a_required_text_must_not_be_blank_and_none_is_blank():
    assert clean_text(None, "lab", 10, label="检测机构") == ""
    with pytest.raises(SubsidyError, match="请填写检测机构"):
        clean_text("  ", "lab", 10, label="检测机构", required=True)


def test_a_value_that_is_not_text_is_refused():
    with pytest.raises(SubsidyError, match="住址应为文本"):
        clean_text(12, "address", 200, label="住址")


def test_a_form_collects_the_reason_under_its_field_and_goes_on():
    errors: dict[str, str] = {}
    assert clean_text_into(errors, "a\x00b", "lab", 100, label="检测机构") == ""
    assert clean_text_into(errors, " 泰安市检验所 ", "report_no", 64, label="检测报告编号") == "泰安市检验所"
    assert list(errors) == ["lab"] and "检测机构" in errors["lab"]


def test_stored_text_loses_exactly_the_unwanted_characters():
    assert without_unwanted("东\x00关\x01村\t3\n组\u0085\ufdd0\ufffe\U0010ffff号") == "东关村3组号"
