"""Slip numbers: one wrong or two swapped characters are always refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.rules import numbers
from subsidy.rules.numbers import InvalidSlipNumber, check_slip_number, copy_code, parse_copy_code, slip_number

prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)
seqs = st.integers(min_value=0, max_value=999_999)
# Every character a slip number can contain, plus some a hand could slip to. Not blanks: a blank
# typed over the first or last character is stripped as padding, which makes it a deletion.
TYPABLE = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-._/"


@given(prefixes, seqs)
def test_a_generated_slip_number_passes_its_own_check(prefix, seq):
    number = slip_number(prefix, seq)
    assert check_slip_number(number) == number
    assert number.startswith(f"{prefix}-{seq:06d}-")


@given(prefixes, seqs)
def test_every_single_character_substitution_is_refused(prefix, seq):
    number = slip_number(prefix, seq)
    for i, original in enumerate(number):
        for replacement in TYPABLE:
            if replacement == original:
                continue
            typo = number[:i] + replacement + number[i + 1 :]
            with pytest.raises(InvalidSlipNumber):
                check_slip_number(typo)


@given(prefixes, seqs)
def test_every_transposition_of_two_adjacent_different_characters_is_refused(prefix, seq):
    number = slip_number(prefix, seq)
    for i in range(len(number) - 1):
        if number[i] == number[i + 1]:
            continue
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        with pytest.raises(InvalidSlipNumber):
            check_slip_number(swapped)


def test_the_check_operation_is_totally_anti_symmetric_for_every_interim_value():
    # The property behind the transposition guarantee, checked exhaustively (36**3 cases).
    table = numbers._TABLE
    for c in range(36):
        for x in range(36):
            for y in range(x + 1, 36):
                assert table[table[c][x]][y] != table[table[c][y]][x], (c, x, y)


def test_the_check_operation_is_a_quasigroup():
    # Each row and each column is a permutation: one wrong character always changes the result.
    table = numbers._TABLE
    for i in range(36):
        assert sorted(table[i]) == list(range(36))
        assert sorted(row[i] for row in table) == list(range(36))


def test_a_slip_number_is_normalised_to_upper_case_without_surrounding_blanks():
    number = slip_number("TS21A", 123)
    assert check_slip_number(f"  {number.lower()}\r\n") == number


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "请输入销售单号"),
        ("TS21A-00123-7", "格式不正确"),
        ("TS21A000123-7", "格式不正确"),
        ("TS21A-000123-77", "格式不正确"),
    ],
)
def test_malformed_slip_numbers_are_refused_with_a_chinese_reason(raw, reason):
    with pytest.raises(InvalidSlipNumber, match=reason):
        check_slip_number(raw)


def test_a_wrong_check_character_says_to_verify_the_number():
    number = slip_number("TS21A", 123)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(InvalidSlipNumber, match="销售单号校验失败，请核对"):
        check_slip_number(wrong)


@pytest.mark.parametrize(("prefix", "seq"), [("", 1), ("ts21a", 1), ("TS-21", 1), ("A" * 13, 1), ("TS21A", -1), ("TS21A", 1_000_000)])
def test_slip_number_refuses_a_bad_prefix_or_sequence(prefix, seq):
    with pytest.raises(InvalidSlipNumber):
        slip_number(prefix, seq)


@given(prefixes, seqs, st.integers(min_value=1, max_value=5))
def test_a_copy_code_parses_back_to_its_number_and_copy(prefix, seq, copy):
    number = slip_number(prefix, seq)
    code = copy_code(number, copy)
    assert code == f"{number}-{copy}"
    assert parse_copy_code(code) == (number, copy)
    assert parse_copy_code(f" {code.lower()}\n") == (number, copy)


@pytest.mark.parametrize("copy", [0, 6, -1])
def test_copy_code_refuses_copies_outside_one_to_five(copy):
    with pytest.raises(InvalidSlipNumber, match="联次应为1至5"):
        copy_code(slip_number("TS21A", 123), copy)


@pytest.mark.parametrize("copy", ["0", "6", "9"])
def test_a_scanned_copy_0_or_6_is_refused(copy):
    with pytest.raises(InvalidSlipNumber, match="联次应为1至5"):
        parse_copy_code(f"{slip_number('TS21A', 123)}-{copy}")


def test_a_copy_code_with_a_bad_slip_check_character_is_refused():
    number = slip_number("TS21A", 123)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(InvalidSlipNumber, match="校验失败"):
        parse_copy_code(f"{wrong}-3")


@pytest.mark.parametrize("code", ["", "TS21A-000123", "TS21A-000123-7-", "TS21A-000123-7-12", "TS21A-000123-7-a"])
def test_malformed_copy_codes_are_refused(code):
    with pytest.raises(InvalidSlipNumber):
        parse_copy_code(code)


def test_a_slip_number_alone_is_not_a_copy_code():
    # "TS21A-000123-B" splits into "TS21A-000123" and "B": the number part is malformed.
    with pytest.raises(InvalidSlipNumber, match="联次条码格式不正确"):
        parse_copy_code(slip_number("TS21A", 123))
