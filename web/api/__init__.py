"""The JSON API under /api/v1 (CONTRACT.md). Bearer tokens only: no cookies, so no CSRF."""

from typing import Annotated

from pydantic import Field

API = "/api/v1"

# The largest value of a database integer column (PostgreSQL's INTEGER is 32 bits). A JSON number above it is refused
# by its field's name instead of overflowing the driver (a 422 naming no field).
MAX_INT = 2**31 - 1
# A row's id in a JSON body: positive (a negative id is refused by name, not looked up and answered 404).
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]
