"""What an authenticated read costs beside its own work (issue #19, item 3): the caller is resolved and the read
served in one session, on one pooled connection, in one transaction; a page's caller (the person shown in the header)
is read once, and only its unit's name beside it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.core import db


@pytest.fixture
def watched(engine):
    """The statements sent and the pool checkouts made while the block runs."""
    seen = {"statements": [], "checkouts": 0}

    def statement(conn, cursor, text, parameters, context, executemany):
        seen["statements"].append(text)

    def checkout(dbapi_connection, record, proxy):
        seen["checkouts"] += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine.pool, "checkout", checkout)


def _reads_of(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


@pytest.mark.parametrize("who, unit", [("caiyuan", "财源街道"), ("drc", "区发改局")])
def test_a_page_reads_its_caller_once_on_one_connection(client_as, engine, watched, who, unit):
    page = client_as(who)
    assert db.get_engine() is engine
    watched["statements"].clear()
    watched["checkouts"] = 0
    answer = page.get("/households" if who != "drc" else "/registrations")
    assert answer.status_code == 200 and unit in answer.text  # the header names the person's unit
    assert watched["checkouts"] == 1, watched["checkouts"]
    users = _reads_of(watched["statements"], "app_user")
    assert len(users) == 1, users  # the login session's user, and not again for the person
    begun = [s for s in watched["statements"] if s.strip().upper().startswith(("BEGIN", "START TRANSACTION"))]
    assert len(begun) <= 1, begun


def test_an_api_read_resolves_its_token_and_reads_on_one_connection(api_as, engine, watched):
    api = api_as("drc")
    watched["statements"].clear()
    watched["checkouts"] = 0
    answer = api.get("/api/v1/towns")
    assert answer.status_code == 200 and any(t["name"] == "财源街道" for t in answer.json())
    assert watched["checkouts"] == 1, watched["checkouts"]
    assert len(_reads_of(watched["statements"], "app_user")) == 1
