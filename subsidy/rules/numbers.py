"""Sales slip numbers and the codes printed on their five copies.

A slip number is ``{PREFIX}-{SEQ:06d}-{CHECK}``, e.g. ``TS21A-000123-7``:

* PREFIX: 1-12 upper-case letters/digits chosen by the caller (district + season + supplier);
* SEQ: 0..999999, zero-padded to 6 digits;
* CHECK: one character of ``0-9A-Z`` computed over PREFIX+SEQ (hyphens excluded).

Each paper copy carries ``{NUMBER}-{COPY}`` with COPY 1..5 (DESIGN.md, "The five copies").

The check character guarantees that a hand-typed number with one wrong character, or with two
adjacent characters swapped, is refused. Why not ISO/IEC 7064 MOD 37,36: its hybrid scheme does
catch every single substitution but misses some adjacent transpositions; for instance
``TS21A-000178-L`` and ``TS21A-000187-L`` both pass it. No ISO 7064 system gives one character of
``0-9A-Z`` with both guarantees (MOD 37-2 needs a 37th symbol, ``*``). So this module uses
Damm's method over a totally anti-symmetric quasigroup of order 36, which gives exactly those
two guarantees (see ``_op``).

Not guaranteed: a dropped or extra character. In SEQ and CHECK that breaks the format anyway;
in PREFIX it is caught 35 times in 36, except a dropped leading "0", which Damm's method never
sees (0 o 0 = 0) - and such a prefix names no district, season and supplier, so the lookup fails.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "InvalidSlipNumber",
    "COPIES",
    "slip_number",
    "check_slip_number",
    "copy_code",
    "parse_copy_code",
]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
COPIES = range(1, 6)  # 配送企业联, 用户联, 街道镇联, 区发改局联, 区财政局联
MAX_SEQ = 999_999

_PREFIX = re.compile(r"[A-Z0-9]{1,12}")
_NUMBER = re.compile(r"(?P<prefix>[A-Z0-9]{1,12})-(?P<seq>[0-9]{6})-(?P<check>[A-Z0-9])")

_FORMAT_HINT = "应形如 TS21A-000123-7"


class InvalidSlipNumber(ValueError):
    """A slip number or copy code that is malformed or fails its check; ``str()`` is Chinese."""


def _op(x: int, y: int) -> int:
    """The quasigroup operation on 0..35, viewed as GF(4) x Z/9 (x = 9*x4 + x9).

    ``x o y = (w*x4 + y4, 2*x9 + y9)`` where ``w`` is a generator of GF(4). In each component the
    map is ``a*x + y`` with ``a`` and ``a - 1`` invertible, which makes the operation a quasigroup
    (single substitutions change the result) and totally anti-symmetric:
    ``(c o x) o y == (c o y) o x`` only if ``x == y`` (adjacent transpositions change it).
    A product of two such quasigroups keeps both properties. Z/36 alone cannot work: one of
    ``a`` and ``a - 1`` is always even.
    """
    x4, x9 = divmod(x, 9)
    y4, y9 = divmod(y, 9)
    # GF(4) = {0, 1, w, w+1} as bits (b0 = coefficient of 1, b1 = of w), with w*w = w + 1:
    # w * (b0 + b1 w) = b1 + (b0 + b1) w. Addition is XOR.
    b0, b1 = x4 & 1, x4 >> 1
    w_x4 = b1 | ((b0 ^ b1) << 1)
    return 9 * (w_x4 ^ y4) + (2 * x9 + y9) % 9


_TABLE = tuple(tuple(_op(x, y) for y in range(36)) for x in range(36))


def _interim(body: str) -> int:
    state = 0
    for ch in body:
        state = _TABLE[state][_VALUE[ch]]
    return state


def _check_char(body: str) -> str:
    # The unique character that brings the interim value back to 0.
    return ALPHABET[_TABLE[_interim(body)].index(0)]


def _normalise(raw: str) -> str:
    # Scanners append CR/LF; a Chinese IME may type full-width characters; people type lower case.
    return unicodedata.normalize("NFKC", raw).strip().upper()


def slip_number(prefix: str, seq: int) -> str:
    """Return the slip number for ``prefix`` (1-12 of ``A-Z0-9``) and ``seq`` (0..999999)."""
    if not _PREFIX.fullmatch(prefix):
        raise InvalidSlipNumber("销售单号前缀应为1至12位大写字母或数字")
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidSlipNumber("销售单流水号超出范围（0至999999）")
    body = f"{prefix}{seq:06d}"
    return f"{prefix}-{seq:06d}-{_check_char(body)}"


def check_slip_number(raw: str) -> str:
    """Return the normalised slip number (stripped, upper-case) or raise ``InvalidSlipNumber``."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidSlipNumber("请输入销售单号")
    s = _normalise(raw)
    m = _NUMBER.fullmatch(s)
    if m is None:
        raise InvalidSlipNumber(f"销售单号格式不正确，{_FORMAT_HINT}")
    # Checking the whole string including the check character against 0 is the Damm test.
    if _interim(m["prefix"] + m["seq"] + m["check"]) != 0:
        raise InvalidSlipNumber("销售单号校验失败，请核对")
    return s


def copy_code(number: str, copy: int) -> str:
    """Text of the barcode on copy ``copy`` (1..5) of slip ``number``: ``"TS21A-000123-7-3"``."""
    if copy not in COPIES:
        raise InvalidSlipNumber("联次应为1至5")
    return f"{check_slip_number(number)}-{copy}"


def parse_copy_code(code: str) -> tuple[str, int]:
    """Split a scanned or typed copy code into ``(slip number, copy)``; validates both.

    Raises ``InvalidSlipNumber`` with a Chinese reason.
    """
    if not isinstance(code, str) or not code.strip():
        raise InvalidSlipNumber("请扫描或输入联次条码")
    s = _normalise(code)
    number, sep, copy = s.rpartition("-")
    if not sep or not _NUMBER.fullmatch(number) or not (len(copy) == 1 and copy in "0123456789"):
        raise InvalidSlipNumber("联次条码格式不正确，应形如 TS21A-000123-7-3")
    if int(copy) not in COPIES:
        raise InvalidSlipNumber("联次应为1至5")
    return check_slip_number(number), int(copy)
