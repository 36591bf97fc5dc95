"""The JSON API under /api/v1 (CONTRACT.md). Bearer tokens only: no cookies, so no CSRF.

Bodies are pydantic models validated in strict mode for every route at once (`PydanticPlugin(validate_strict=True)`
in web/app.py): a JSON value of the wrong type is refused by its field's name, never coerced (`"quantity": true`
once issued a 1 kg slip; `"5"`, `1.5` or `true` for an integer, a number for a text are all 422). The types below
are the JSON forms that strict mode alone would get wrong: a date (JSON has none: its ISO text) and a measured
value (a JSON number or its exact decimal text, read by subsidy/rules/measures.py; never a boolean)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

API = "/api/v1"

# The largest value of a database integer column (PostgreSQL's INTEGER is 32 bits). A JSON number above it is refused
# by its field's name instead of overflowing the driver (a 422 naming no field).
MAX_INT = 2**31 - 1
# A row's id in a JSON body: positive (a negative id is refused by name, not looked up and answered 404).
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date_type", "应为日期，格式 YYYY-MM-DD")


def _measured(value) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PydanticCustomError("measured_type", "应为数字，或数字的文本（如 \"0.45\"）")
    return value


# A calendar date in a JSON body: "YYYY-MM-DD" and nothing else (not a timestamp, not a number).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# A test report's value: a JSON number or its decimal text, parsed exactly by the rules (places, range, sign).
Measured = Annotated[int | float | str, PlainValidator(_measured),
                     WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})]


class Body(BaseModel):
    """A request body whose fields the service calls otherwise: `service_names` maps the service's name of a field
    to the API's (CONTRACT.md's). A refusal raised while a route handles such a body names its fields as the caller
    sent them (`api_names`, applied to every API answer in web/errors.py), never by the service's names."""
    service_names: ClassVar[dict[str, str]] = {}


def body_model(request) -> type | None:
    """The pydantic model of the route's JSON body (`data`), if it has one."""
    handler = request.scope.get("route_handler")
    parameter = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    return parameter.annotation if parameter is not None and isinstance(parameter.annotation, type) else None


def api_names(model: type | None, errors: dict[str, str]) -> dict[str, str]:
    """`errors` with each key's leading name ("origin", "lines[0].serial" → "lines") in the API's words."""
    names = getattr(model, "service_names", None)
    if not names or not errors:
        return errors
    renamed = {}
    for key, reason in errors.items():
        head, sep, rest = key.partition(".") if "[" not in key.split(".", 1)[0] else key.partition("[")
        renamed[names.get(head, head) + sep + rest] = reason
    return renamed


class PageFields(BaseModel):
    """The paging fields of every list answer beside its `items` (CONTRACT.md: `items`, `total`, `page`): `total`
    counts up to paging.COUNT_CAP (a search by name to 1,000) and `total_capped` says there are more; `next`/`prev` are cursors to pass back as
    `after=`/`before=` (any depth at the same cost); `page=` stays for compatibility, up to paging.MAX_PAGE."""
    total: int
    total_capped: bool = False
    page: int
    per_page: int
    next: str | None = None
    prev: str | None = None

    @classmethod
    def of(cls, pg) -> dict:
        return {"total": pg.total or 0, "total_capped": pg.total_capped, "page": pg.page, "per_page": pg.per_page,
                "next": pg.next, "prev": pg.prev}
