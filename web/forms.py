"""Helpers shared by page handlers: URL-encoded and multipart bodies, re-rendering a refused form, parsing numbers,
dates and uploaded files."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy.orm import Session

from subsidy.core.db import end_read
from subsidy.core.errors import Conflict, Refused, SubsidyError
from subsidy.core.settings import get_settings

# Forms that can cause a duplicate (a username, a code, a contract that exists already: a Conflict) show it next to
# the field, as a refusal; missing (404) and not allowed (403) go to the error pages.
REFUSED_OR_DUPLICATE = (Refused, Conflict)
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)
# The body limit of a handler taking an attachment: the largest file allowed and the form fields around it.
UPLOAD_LIMIT = get_settings().attachment_max_bytes + 256 * 1024


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


def as_date(form: dict, key: str, label: str) -> date | None:
    """An ISO date field (what `<input type=date>` sends); None when empty, refused with the label when malformed."""
    raw = str(form.get(key) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refused(f"{label}格式应为 年-月-日，例如 2021-10-01", field=key) from None


def uploaded(form: dict, key: str) -> tuple[str, bytes] | None:
    """The file of a multipart field as (filename, bytes), None when none was chosen. Reads one byte past the
    attachment limit so that `attachments.store` refuses a file that is too large instead of storing it cut."""
    upload = form.get(key)
    if isinstance(upload, UploadFile) and upload.filename:
        return upload.filename, upload.file.read(get_settings().attachment_max_bytes + 1)
    return None


def text_fields(form: dict) -> dict:
    """The typed fields of a multipart form, to fill a refused form again (a file cannot be sent back)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}
