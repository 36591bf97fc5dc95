"""The address's normal form (subsidy/rules/addresses.py): spellings of one address fold together, different
addresses stay apart."""

from __future__ import annotations

import pytest

from subsidy.rules.addresses import KEY_LENGTH, address_key, chinese_number


@pytest.mark.parametrize("spelling", [
    "东关村3组5号", "东关村 3组 5号", "东关村\u30003组5号", "东关村３组５号", "东关村3組5號", "东关村三组五号",
    "东关村第三组5号", "东关村3队5号", "东关村3隊5#", "东关村3组5＃", " 东关村\t3 组 5 号 ",
])
def test_spellings_of_one_address_share_its_key(spelling):
    assert address_key(spelling) == "东关村3组5号"


@pytest.mark.parametrize("other", ["东关村3组6号", "东关村4组5号", "西关村3组5号", "东关村35号"])
def test_different_addresses_keep_different_keys(other):
    assert address_key(other) != address_key("东关村3组5号")


@pytest.mark.parametrize("text, value", [("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百零五", 105),
                                          ("一二", 12), ("两百", 200), ("〇", 0)])
def test_chinese_numerals_read_as_their_values(text, value):
    assert chinese_number(text) == value


def test_letters_fold_case_and_nothing_is_longer_than_the_column():
    assert address_key("Ａ座3号") == address_key("a座3号") == "a座3号"
    assert address_key("") == address_key(None) == ""
    assert len(address_key("\ufdfa" * 200)) == KEY_LENGTH
