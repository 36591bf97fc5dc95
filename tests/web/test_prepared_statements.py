"""A request that only reads must not end its transaction with a ROLLBACK on PostgreSQL: psycopg forgets every
statement it prepared on the connection at a ROLLBACK, and the sale's statements are then parsed and planned again
on every request (PostgreSQL spent 2.8 ms of CPU per sale instead of 1.5; scripts/bench_slips.py)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from subsidy.core import db
from subsidy.rules.idnumbers import make_id_number
from subsidy.rules.numbers import slip_number
from tests.web.sales.test_slips import approved, issue

pytestmark = pytest.mark.pg_only(
    reason="SQLite has no server-side prepared statements to lose; its statement cache survives a rollback")

UNKNOWN_ID_NUMBER = make_id_number("370911", date(1931, 1, 1), "999")  # valid, and nobody's

# Every kind of read, each as a request that must leave the connection's prepared statements in place.
READS = {
    "an API read": lambda s: s.api.get(f"/api/v1/slips/{s.number}"),
    "an API read of a slip that does not exist": lambda s: s.api.get(f"/api/v1/slips/{slip_number('TS21A', 999_999)}"),
    "the lookup by ID number": lambda s: s.api.post("/api/v1/registrations/lookup", json={"id_number": s.id_number}),
    "a lookup that finds nobody": lambda s: s.api.post("/api/v1/registrations/lookup",
                                                       json={"id_number": UNKNOWN_ID_NUMBER}),
    "a page": lambda s: s.page.get("/slips"),
    "the counter's lookup step": lambda s: s.page.submit("/slips/new", {"id_number": s.id_number, "step": "lookup"}),
    "the counter's preview": lambda s: s.page.submit("/slips/new", {
        "id_number": s.id_number, "step": "preview", "product_0": "briquette", "quantity_0": "0.1"}),  # tons
    "a refused preview": lambda s: s.page.submit("/slips/new", {
        "id_number": s.id_number, "step": "preview", "product_0": "briquette", "quantity_0": "99"}),
}
EXPECTED_STATUS = {"an API read of a slip that does not exist": 404, "a lookup that finds nobody": 404,
                   "a refused preview": 422}


@pytest.fixture
def one_connection(db_url):
    """The app's engine with a single pooled connection, so that every request runs on the one we inspect."""
    db.dispose_engines()
    db._engines[db_url] = db.make_engine(db_url, pool_size=1, max_overflow=0)
    return db._engines[db_url]


def _prepared(engine) -> list[str]:
    with engine.connect() as connection:
        statements = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        connection.commit()
    return statements


class Scene:
    pass


@pytest.fixture
def scene(one_connection, api_as, client_as) -> Scene:
    """coal-a has sold seven slips through the API (psycopg prepares a statement at its sixth execution on a
    connection), and its clerk is logged in on the pages too."""
    s = Scene()
    s.engine = one_connection
    s.api = api_as("coal-a")
    s.page = client_as("coal-a")
    rid, s.id_number = approved(one_connection)
    for _ in range(7):
        response = issue(s.api, (rid, s.id_number), quantity=100)
        assert response.status_code == 201, response.text
    s.number = response.json()["number"]
    prepared = _prepared(one_connection)
    assert any("INSERT INTO slip " in sql for sql in prepared), prepared
    assert any("JOIN api_token" in sql for sql in prepared), prepared
    return s


@pytest.mark.parametrize("read", READS)
def test_a_read_keeps_the_connections_prepared_statements(scene, read):
    response = READS[read](scene)
    assert response.status_code == EXPECTED_STATUS.get(read, 200), response.text[:300]
    prepared = _prepared(scene.engine)
    assert any("INSERT INTO slip " in sql for sql in prepared), prepared  # the sale's
    assert any("JOIN api_token" in sql for sql in prepared), prepared  # the caller's resolution
