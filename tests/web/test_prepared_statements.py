"""A request that only reads must not end its transaction with a ROLLBACK on PostgreSQL: psycopg forgets every
statement it prepared on the connection at a ROLLBACK, and the sale's statements are then parsed and planned again
on every request (PostgreSQL's CPU per sale was three times what it is with them kept; scripts/bench_slips.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from subsidy import db
from tests.web.test_slips import approved, issue


@pytest.fixture
def one_connection(db_url, backend):
    """The app's engine with a single pooled connection, so that every request runs on the one we inspect."""
    if backend == "sqlite":
        pytest.skip("SQLite has no server-side prepared statements to lose; its statement cache survives a rollback")
    db.dispose_engines()
    db._engines[db_url] = db.make_engine(db_url, pool_size=1, max_overflow=0)
    return db._engines[db_url]


def _prepared(engine) -> list[str]:
    with engine.connect() as connection:
        statements = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        connection.commit()
    return statements


def test_reading_requests_keep_the_connections_prepared_statements(one_connection, api_as, client_as, engine):
    api = api_as("coal-a")
    numbers = []
    rid, id_number = approved(one_connection)
    for _ in range(7):  # psycopg prepares a statement at its sixth execution on a connection
        response = issue(api, rid, quantity=100)
        assert response.status_code == 201, response.text
        numbers.append(response.json()["number"])
    prepared = _prepared(one_connection)
    assert any("INSERT INTO slip " in s for s in prepared), prepared
    assert any("JOIN api_token" in s for s in prepared), prepared

    # Reads of every kind: the caller's lookup, an API read, the supplier's lookup by ID number, a page.
    assert api.get(f"/api/v1/slips/{numbers[0]}").status_code == 200
    assert api.post("/api/v1/registrations/lookup", json={"id_number": id_number}).status_code == 200
    town = client_as("caiyuan")
    assert town.get("/slips").status_code == 200

    prepared_after = _prepared(one_connection)
    assert any("INSERT INTO slip " in s for s in prepared_after), prepared_after
    assert any("JOIN api_token" in s for s in prepared_after), prepared_after
