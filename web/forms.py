"""Helpers shared by page handlers: URL-encoded bodies, one transaction per write, re-rendering a refused form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy.orm import Session

from subsidy.core.db import run_in_transaction
from subsidy.core.errors import SubsidyError

T = TypeVar("T")
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)


def write(session: Session, work: Callable[[], T]) -> T:
    """Run a use case as one transaction (retried on serialization failures, see subsidy.core.db)."""
    return run_in_transaction(session, work)


def refused(template: str, error: SubsidyError, form: dict | None = None, **context: Any) -> Template:
    """The form again, with the reason and what was typed, answered 422."""
    return Template(template, context={"form": form or {}, "error": error, "errors": error.errors, **context},
                    status_code=422)


def as_int(form: dict, key: str, label: str, *, required: bool = True, minimum: int | None = 0) -> int | None:
    raw = (form.get(key) or "").strip()
    if not raw:
        if required:
            raise SubsidyError(f"请填写{label}", field=key)
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SubsidyError(f"{label}应为整数", field=key) from None
    if minimum is not None and value < minimum:
        raise SubsidyError(f"{label}不能小于{minimum}", field=key)
    return value


def page_number(value: int | None) -> int:
    return max(1, value or 1)


def is_number(text: str) -> bool:
    """ASCII digits that fit a database integer. (`"²".isdigit()` is True in Python, and int() then fails.)"""
    return text.isascii() and text.isdigit() and len(text) <= 18
