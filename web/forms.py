"""Helpers shared by page handlers: URL-encoded bodies, re-rendering a refused form, parsing numbers."""

from __future__ import annotations

from typing import Any

from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy.orm import Session

from subsidy.core.db import end_read
from subsidy.core.errors import Conflict, Refused, SubsidyError

# Forms that can cause a duplicate (a username, a code, a contract that exists already: a Conflict) show it next to
# the field, as a refusal; missing (404) and not allowed (403) go to the error pages.
REFUSED_OR_DUPLICATE = (Refused, Conflict)
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)


def discard(session: Session) -> None:
    """End a refused attempt before its form is rendered again: keep nothing it wrote (a sale refused on its second
    line has already taken the first line's stock), and end one that only read without a ROLLBACK (`db.end_read`:
    a ROLLBACK makes psycopg drop the connection's prepared statements). The request's edge (web/deps.py) commits
    what a handler that returns normally leaves behind; after this, that is only the reads that render the form."""
    end_read(session)


def refused(template: str, error: SubsidyError, form: dict | None = None, **context: Any) -> Template:
    """The form again, with the reason and what was typed, answered 422."""
    return Template(template, context={"form": form or {}, "error": error, "errors": error.errors, **context},
                    status_code=422)


def as_int(form: dict, key: str, label: str, *, required: bool = True, minimum: int | None = 0) -> int | None:
    raw = (form.get(key) or "").strip()
    if not raw:
        if required:
            raise Refused(f"请填写{label}", field=key)
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Refused(f"{label}应为整数", field=key) from None
    if minimum is not None and value < minimum:
        raise Refused(f"{label}不能小于{minimum}", field=key)
    return value


def page_number(value: int | None) -> int:
    return max(1, value or 1)


def is_number(text: str) -> bool:
    """ASCII digits that fit a database integer. (`"²".isdigit()` is True in Python, and int() then fails.)"""
    return text.isascii() and text.isdigit() and len(text) <= 18
