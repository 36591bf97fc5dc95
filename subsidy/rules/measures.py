"""Scaled decimals typed by people or sent as JSON numbers: percent, MJ/kg, tons, yuan, fund shares.

Every such quantity is stored as an exact integer (hundredths of a percent, kJ/kg, kg, fen, basis points) and read
by ONE parser, `parse_decimal`, so that a form, a spreadsheet cell and a JSON number are refused for the same
reasons in the same words: no sign (a negative JSON integer is refused like a typed "-1"), at most `places` decimals,
at most `max_value`. No floats: a JSON float is read through its shortest decimal repr, never multiplied.

A refusal is `InvalidMeasure`: a SubsidyError naming the field (the web layer answers it 422 with the field), and a
ValueError too, for the callers that collect a form's reasons with `except ValueError`.
"""

from __future__ import annotations

import re
import unicodedata

from subsidy.core.errors import SubsidyError

__all__ = [
    "InvalidMeasure", "parse_decimal", "parse_mj", "parse_percent", "parse_percent_bp", "parse_tons_to_kg",
    "parse_yuan",
]

# Plain digits or correctly grouped thousands, then an optional fraction. The length of the whole part is checked
# apart from the pattern, so that "10000000000000000" is "too large" rather than "not a number".
_NUMBER = re.compile(r"(?P<whole>[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.(?P<frac>[0-9]+))?")
# 12 integer digits keep every scaled value far inside a 64-bit column and refuse pasted garbage such as an ID number.
_MAX_WHOLE_DIGITS = 12


class InvalidMeasure(SubsidyError, ValueError):
    """A quantity that cannot be read; `field` names it, the message (Chinese) names it too."""


def parse_decimal(value, *, places: int, label: str, field: str | None = None, hint: str = "",
                  max_value: int | None = None, too_large: str = "", percent_sign: bool = False) -> int:
    """`value` (text, or an int/float from JSON) as an int scaled by 10**places, exactly.

    Accepts full-width digits and points (NFKC), surrounding spaces, grouped thousands ("1,100.5"), trailing zeros
    beyond `places` ("0.450" with 2 places), and a trailing "%" when `percent_sign`. Refuses, with `InvalidMeasure`
    naming `label` and `field`: nothing typed (None, "", a bool), a sign, anything not a plain decimal (exponents,
    "1.", units), more than `places` decimals, more than 12 integer digits, and a scaled value above `max_value`
    (then the message is `too_large` when given)."""
    def refuse(message: str) -> InvalidMeasure:
        return InvalidMeasure(message, field=field)

    if value is None or isinstance(value, bool):
        raise refuse(f"请输入{label}")
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, int):
        text = str(value)  # a JSON integer takes the same path as typed text: "-1" is refused, never scaled
    else:
        text = str(value)
    # NFKC turns full-width digits, commas and points typed with a Chinese IME into ASCII.
    s = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    if percent_sign and s.endswith("%"):
        s = s[:-1]
    shown = text.strip()
    if not s:
        raise refuse(f"请输入{label}")
    if s.startswith("-"):
        raise refuse(f"{label}不能为负数")
    m = _NUMBER.fullmatch(s)
    if m is None:
        raise refuse(f"{label}格式不正确：“{shown}”" + (f"，{hint}" if hint else ""))
    whole_digits = m.group("whole").replace(",", "")
    if len(whole_digits.lstrip("0")) > _MAX_WHOLE_DIGITS:
        raise refuse(too_large or f"{label}数值过大：“{shown}”")
    frac = m.group("frac") or ""
    if len(frac) > places:
        frac = frac[:places] + frac[places:].rstrip("0")
    if len(frac) > places:
        raise refuse(f"{label}最多保留{places}位小数：“{shown}”")
    scaled = int(whole_digits) * 10**places + int(frac.ljust(places, "0") or 0)
    if max_value is not None and scaled > max_value:
        raise refuse(too_large or f"{label}数值过大：“{shown}”")
    return scaled


def parse_yuan(text, *, field: str | None = None, label: str = "金额") -> int:
    """A yuan amount into fen: "1100", "1,100.5", "1100.50"; at most 2 decimals; no sign."""
    return parse_decimal(text, places=2, label=label, field=field, hint="应为以元为单位的数字，例如 1100 或 1,100.50")


def parse_tons_to_kg(text, *, field: str | None = None, label: str = "吨数") -> int:
    """A quantity in tons into whole kilograms: "12", "1,234.5", "0.125"; at most 3 decimals (1 kg); no sign."""
    return parse_decimal(text, places=3, label=label, field=field, hint="应为以吨为单位的数字，例如 12 或 1.250")


def parse_percent(value, label: str, field: str | None = None) -> int:
    """A test report's percent into hundredths of a percent: "0.45" → 45; at most 2 decimals; 0 to 100%."""
    return parse_decimal(value, places=2, label=label, field=field, hint="应为百分数，例如 0.45", max_value=10000,
                         too_large=f"{label}不能超过100%", percent_sign=True)


def parse_mj(value, field: str | None = "calorific_mj_kg", label: str = "发热量") -> int:
    """A calorific value in MJ/kg into kJ/kg: "24.5" → 24500; at most 3 decimals (whole kJ); at most 40 MJ/kg (no
    coal burns hotter: a larger number is a value typed in the wrong unit)."""
    return parse_decimal(value, places=3, label=label, field=field, hint="应为以 MJ/kg 为单位的数字，例如 24.5",
                         max_value=40000, too_large=f"{label}不应超过 40 MJ/kg，请核对单位（MJ/kg）")


def parse_percent_bp(text, *, field: str | None = None, label: str = "比例") -> int:
    """A fund share typed as a percent ("33.33", "50%") into basis points (3333); at most 2 decimals; 0 to 100%."""
    return parse_decimal(text, places=2, label=label, field=field, max_value=10000, too_large=f"{label}不能超过100%",
                         hint="应为百分数，最多2位小数，例如 50 或 33.33", percent_sign=True)
