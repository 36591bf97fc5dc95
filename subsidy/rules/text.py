"""Free text typed by people: names, addresses, reasons, report numbers, contacts.

Every such field is one line on a form, and its value ends up in lists, printed slips and the official spreadsheets.
A control character in it (pasted from another program, or sent on purpose through the API) is invisible on screen
but makes the spreadsheet writer refuse the whole sheet and PostgreSQL refuse a NUL outright, so one bad address
would stop a village's export or a town's monthly summary. Such characters are refused where the text comes in,
with a reason naming the field; `without_unwanted` removes them from whatever was stored before this rule existed.

Refused: C0 controls (U+0000-U+001F, tab and line breaks included: no field here is multi-line), DEL and C1
controls (U+007F-U+009F), lone surrogates (JSON can carry them; they cannot be encoded), and the Unicode
non-characters (U+FDD0-U+FDEF and the last two code points of every plane, U+xFFFE and U+xFFFF).
"""

from __future__ import annotations

import re

from subsidy.core.errors import Refused, SubsidyError

_NON_CHARACTERS = "".join(chr(plane << 16 | 0xFFFE) + "-" + chr(plane << 16 | 0xFFFF) for plane in range(17))
UNWANTED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + _NON_CHARACTERS + "]")


def unwanted_character(value: str) -> str | None:
    """The first character of `value` that no text field may hold, or None."""
    found = UNWANTED.search(value)
    return found.group() if found else None


def clean_text(value, field: str, max_len: int, *, label: str, required: bool = False) -> str:
    """`value` without surrounding spaces, or SubsidyError (for `field`, in words naming `label`) when it is not
    text, holds a character of UNWANTED anywhere (inner or outer: nothing is silently dropped), is longer than
    `max_len` characters, or is empty while `required`. None is the empty text."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Refused(f"{label}应为文本", field=field)
    bad = unwanted_character(value)
    if bad is not None:
        raise Refused(f"{label}含有不可见的控制字符或非法字符（U+{ord(bad):04X}），请删除后重新填写", field=field)
    text = value.strip()
    if required and not text:
        raise Refused(f"请填写{label}", field=field)
    if len(text) > max_len:
        raise Refused(f"{label}不能超过{max_len}个字", field=field)
    return text


def clean_text_into(errors: dict[str, str], value, field: str, max_len: int, *, label: str,
                    required: bool = False) -> str:
    """`clean_text` for a form that reports every wrong field at once: a refusal's reason goes into `errors[field]`
    and the empty text is returned."""
    try:
        return clean_text(value, field, max_len, label=label, required=required)
    except SubsidyError as error:
        errors[field] = error.message
        return ""


def without_unwanted(value: str) -> str:
    """`value` with every character of UNWANTED removed: for text stored before it was refused at input."""
    return UNWANTED.sub("", value)


__all__ = ["UNWANTED", "clean_text", "clean_text_into", "unwanted_character", "without_unwanted"]
