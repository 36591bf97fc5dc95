"""The one normal form of a household's address, for finding the same address typed in different ways (the
`shared_address` anomaly rule, subsidy/oversight/anomalies.py). Stored beside the address as `household.address_key`
on every write (subsidy/models/households.py) so that the rule is a plain GROUP BY.

Folded: every kind of whitespace (removed), full-width forms (NFKC: "３号" is "3号", "Ａ座" is "a座"), letter case,
the traditional and variant spellings of 号 and 组 (號, 組, 队 and 隊 as a village group), "#" or "＃" after a number
(5# is 5号), the ordinal 第 before a number, and Chinese numerals before 号, 组, 排, 巷, 楼, 单元 (三组 is 3组,
十二号 is 12号, 二十 is 20). Nothing else: 东关村3组5号 and 东关村3组6号 stay apart.
"""

from __future__ import annotations

import re
import unicodedata

_VARIANTS = str.maketrans({"號": "号", "組": "组", "队": "组", "隊": "组", "＃": "#"})
_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_UNITS = "号组排巷楼单元"
_CHINESE_NUMBER = re.compile(f"第?([〇零一二两三四五六七八九十百]+)(?=[{_UNITS}])")
_ORDINAL = re.compile(r"第(?=\d)")
_HASH = re.compile(r"(\d)#")
KEY_LENGTH = 255  # NFKC may lengthen a 200-character address (a ligature unfolds); the key is cut, still one form


def chinese_number(text: str) -> int:
    """The value of a Chinese numeral below 1000 written with 十 and 百 or digit by digit: 十二 12, 二十 20,
    一百零五 105, 一二 12."""
    if "十" not in text and "百" not in text:
        return int("".join(str(_DIGITS[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c == "百":
            total += (digit or 1) * 100
            digit = 0
        elif c == "十":
            total += (digit or 1) * 10
            digit = 0
        else:
            digit = _DIGITS[c]
    return total + digit


def address_key(address: str | None) -> str:
    """The normal form of `address` (the module docstring); the empty text for None or an empty address."""
    if not address:
        return ""
    text = unicodedata.normalize("NFKC", address).translate(_VARIANTS).casefold()
    text = "".join(text.split())
    text = _CHINESE_NUMBER.sub(lambda m: str(chinese_number(m.group(1))), text)
    text = _ORDINAL.sub("", text)
    return _HASH.sub(r"\1号", text)[:KEY_LENGTH]


__all__ = ["KEY_LENGTH", "address_key", "chinese_number"]
