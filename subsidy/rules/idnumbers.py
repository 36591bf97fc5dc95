"""Identity numbers, credit codes and phone numbers: validation, normalisation, masking.

* Resident ID number (居民身份证号码), GB 11643-1999: 6-digit region, 8-digit birth date,
  3-digit sequence, check character by ISO 7064 MOD 11-2.
* Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from a 31-symbol
  alphabet, check character by weighted sum modulo 31.
* Mainland mobile numbers and landlines with area code.

Every ``validate_*`` returns the normalised form to store, or raises a ``ValueError``
subclass whose ``str()`` is a Chinese sentence fit to show next to the form field.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

__all__ = [
    "InvalidIdNumber",
    "InvalidCreditCode",
    "InvalidPhone",
    "validate_id_number",
    "id_check_char",
    "make_id_number",
    "validate_credit_code",
    "credit_check_char",
    "make_credit_code",
    "validate_phone",
    "mask_id_number",
    "mask_phone",
    "mask_account",
]


class InvalidIdNumber(ValueError):
    """An ID number that fails GB 11643; ``str()`` is the reason in Chinese."""


class InvalidCreditCode(ValueError):
    """A unified social credit code that fails GB 32100; ``str()`` is the reason in Chinese."""


class InvalidPhone(ValueError):
    """A phone number that is neither a mainland mobile nor a landline with area code."""


def _compact(raw: str) -> str:
    # NFKC folds full-width characters typed with a Chinese IME (１２３Ｘ) into ASCII;
    # people paste numbers with spaces in them, so all whitespace goes.
    return "".join(unicodedata.normalize("NFKC", raw).split())


# --- Resident ID number (GB 11643-1999) -------------------------------------------------

# Province-level codes of GB/T 2260 (first two digits of the region code), plus 71 Taiwan,
# 81 Hong Kong and 82 Macao; 81/82/83 also start the residence-permit numbers of Hong Kong,
# Macao and Taiwan residents (港澳台居民居住证), which follow GB 11643 exactly.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
    | {"71", "81", "82", "83"}
)

# ISO 7064 MOD 11-2: weight of position i (0-based, left to right) is 2**(17 - i) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)


def id_check_char(first17: str) -> str:
    """Check character ("0"-"9" or "X") of an ID number whose first 17 characters are digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdNumber("身份证号码前17位应为数字")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def make_id_number(region6: str, birth: date, seq3: str) -> str:
    """Build a valid (fictional) ID number from a 6-digit region, a birth date and a 3-digit sequence.

    For demo data and tests; the sequence's parity is the sex (odd male, even female).
    """
    if not (len(region6) == 6 and region6.isascii() and region6.isdigit()):
        raise InvalidIdNumber("地区代码应为6位数字")
    if not (len(seq3) == 3 and seq3.isascii() and seq3.isdigit()):
        raise InvalidIdNumber("顺序码应为3位数字")
    first17 = f"{region6}{birth:%Y%m%d}{seq3}"
    return first17 + id_check_char(first17)


def validate_id_number(raw: str, today: date | None = None) -> str:
    """Return the normalised 18-character ID number (upper-case X) or raise ``InvalidIdNumber``.

    Checks, in order: length 18; first 17 digits; last digit or X; province code; birth date
    is a real date between 1900-01-01 and ``today`` (default: the system date); check character.
    Whitespace anywhere is ignored and a lower-case x is accepted.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidIdNumber("请输入身份证号码")
    s = _compact(raw).upper()
    if len(s) != 18:
        raise InvalidIdNumber(f"身份证号码应为18位（当前为{len(s)}位）")
    first17, last = s[:17], s[17]
    if not (first17.isascii() and first17.isdigit()):
        raise InvalidIdNumber("身份证号码前17位应为数字")
    if last not in "0123456789X":
        raise InvalidIdNumber("身份证号码最后一位应为数字或X")
    if s[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber("身份证号码的地区代码无效")
    try:
        birth = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise InvalidIdNumber("身份证号码的出生日期无效") from None
    if birth < date(1900, 1, 1):
        raise InvalidIdNumber("身份证号码的出生日期无效（早于1900年）")
    if birth > (today or date.today()):
        raise InvalidIdNumber("出生日期不能晚于今天")
    if id_check_char(first17) != last:
        raise InvalidIdNumber("身份证号码校验位错误，请核对")
    return s


# --- Unified social credit code (GB 32100-2015) -----------------------------------------

# 31 symbols: digits and upper-case letters without I, O, S, V, Z (too easy to misread).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_ALPHABET)}
# Weight of position i is 3**i mod 31.
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# First character: the registration authority (登记管理部门), table 1 of GB 32100-2015:
# 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商(市场监管),
# A 中央军委改革和编制办公室, N 农业, Y 其他.
CREDIT_AUTHORITIES = frozenset("123456789ANY")


def credit_check_char(first17: str) -> str:
    """Check character of a credit code whose first 17 characters are in ``CREDIT_ALPHABET``."""
    if len(first17) != 17 or any(c not in _CREDIT_VALUE for c in first17):
        raise InvalidCreditCode("统一社会信用代码前17位含有无效字符")
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def make_credit_code(first17: str) -> str:
    """Append the check character to 17 characters, e.g. ``make_credit_code("91370900MA3C00001")``.

    For demo data and tests; the 17 characters must already be a plausible code body.
    """
    return first17 + credit_check_char(first17)


def validate_credit_code(raw: str) -> str:
    """Return the normalised (upper-case) credit code or raise ``InvalidCreditCode``.

    Checks: 18 characters from ``CREDIT_ALPHABET``; a known registration authority first;
    a 6-digit region code in positions 3-8; the check character. The organisation code in
    positions 9-17 is not checked on its own: codes issued to individual businesses do not
    carry a GB 11714 check digit there, so that check would refuse genuine codes.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidCreditCode("请输入统一社会信用代码")
    s = _compact(raw).upper()
    if len(s) != 18:
        raise InvalidCreditCode(f"统一社会信用代码应为18位（当前为{len(s)}位）")
    bad = [c for c in s if c not in _CREDIT_VALUE]
    if bad:
        raise InvalidCreditCode(f"统一社会信用代码含有无效字符“{bad[0]}”（代码中不使用I、O、S、V、Z）")
    if s[0] not in CREDIT_AUTHORITIES:
        raise InvalidCreditCode("统一社会信用代码第1位（登记管理部门代码）无效")
    if not s[2:8].isdigit():
        raise InvalidCreditCode("统一社会信用代码第3至8位（行政区划码）应为数字")
    if credit_check_char(s[:17]) != s[17]:
        raise InvalidCreditCode("统一社会信用代码校验位错误，请核对")
    return s


# --- Phone numbers ----------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# Local numbers are 7 or 8 digits and never start with 0 or 1 (those are trunk/service prefixes).
_LOCAL = re.compile(r"[2-9][0-9]{6,7}")


def _area_code_length(digits: str) -> int:
    # Beijing 010 and the 02x cities have 3-digit area codes; every other area code has 4.
    # This is what lets "05388221234" be split without a hyphen.
    return 3 if digits[:2] in ("01", "02") else 4


def validate_phone(raw: str) -> str:
    """Return a normalised phone number or raise ``InvalidPhone``.

    * mobile: 11 digits ``1[3-9]xxxxxxxxx``, returned as 11 digits (a ``+86``/``0086`` prefix,
      spaces and hyphens are dropped);
    * landline: area code (010, 02x, or 4 digits starting with 0) and a 7-8 digit local number,
      with or without hyphen or brackets, returned as ``"0538-8221234"``.

    Extensions are not accepted.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone("请输入电话号码")
    s = _compact(raw)
    for ch in "-()":
        s = s.replace(ch, "")
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    if not (s.isascii() and s.isdigit()):
        raise InvalidPhone("电话号码只能包含数字和“-”")
    if s.startswith("1"):
        if len(s) != 11:
            raise InvalidPhone(f"手机号码应为11位（当前为{len(s)}位）")
        if not _MOBILE.fullmatch(s):
            raise InvalidPhone("手机号码格式不正确")
        return s
    if s.startswith("0"):
        n = _area_code_length(s)
        area, local = s[:n], s[n:]
        if not _LOCAL.fullmatch(local):
            raise InvalidPhone("固定电话号码格式不正确，应为区号加7至8位号码，例如 0538-8221234")
        return f"{area}-{local}"
    raise InvalidPhone("固定电话请加区号，例如 0538-8221234")


# --- Masking ----------------------------------------------------------------------------
# Masks are for display (public notices, lists); they take stored, normalised values.


def mask_id_number(s: str) -> str:
    """``"370902199001011234"`` -> ``"370902********1234"``: keep the region and the last 4.

    Shorter strings keep first 6 and last 4 only if something is left to hide (> 10 characters),
    otherwise everything is starred.
    """
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_phone(s: str) -> str:
    """Mask a phone number for display.

    * mobile ``"13812345678"`` -> ``"138****5678"``;
    * landline ``"0538-8221234"`` -> ``"0538-****1234"``: the area code (public knowledge, it says
      where the household is) and the last 4; always 4 stars, so the length of the local number
      is not revealed either;
    * anything else: stars and the last 4 (see ``mask_account``).
    """
    if _MOBILE.fullmatch(s):
        return s[:3] + "****" + s[-4:]
    area, sep, local = s.partition("-")
    if sep and area.startswith("0") and len(local) > 4:
        return f"{area}-****{local[-4:]}"
    return mask_account(s)


def mask_account(s: str) -> str:
    """Keep only the last 4 characters: ``"6222021234567890123"`` -> ``"***************0123"``.

    Spaces are dropped first; one star per hidden character so the length can still be compared
    with a passbook. Strings of 4 characters or fewer are entirely starred.
    """
    s = "".join(s.split())
    if len(s) <= 4:
        return "*" * len(s)
    return "*" * (len(s) - 4) + s[-4:]
