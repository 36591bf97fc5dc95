"""The pool does not ping before every checkout (a round trip per request on the hottest path); instead a connection
the server has closed is found by the next statement, the pool is discarded, and the work runs again on a new
connection. Shown on PostgreSQL by killing every connection of the test database between two requests."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.core import db
from subsidy.models import Slip
from tests.factories import sales as f
from subsidy.sales import issuing

pytestmark = pytest.mark.pg_only(reason="SQLite has no server that could close a connection")


@pytest.fixture
def kill_connections(db_url):
    name = sa.engine.make_url(db_url).database

    def kill() -> int:
        admin = sa.create_engine(db.normalise_url(db_url).rsplit("/", 1)[0] + "/postgres",
                                 isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            killed = connection.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).scalar()
        admin.dispose()
        return killed

    return kill


def test_a_sale_after_the_server_dropped_the_pool_runs_once_on_a_new_connection(engine, demo, kill_connections):
    with db.transaction(engine) as s:
        household, registration = f.household(s, "dongguan", coal_kg=2000)
        id_number = household.id_number
    clerk_session = db.new_session(engine, write=True)
    clerk = f.user(clerk_session, "coal-a")
    clerk_session.commit()  # the pooled connection is now idle, and about to be killed
    assert kill_connections() >= 1

    slip = db.run_in_transaction(clerk_session, lambda: issuing.issue_slip(
        clerk_session, clerk=clerk, registration_id=registration.id, id_number=id_number, lines=[issuing.LineIn("briquette", 1000)]))
    clerk_session.close()

    with db.new_session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Slip)).scalar() == 1
        assert s.get(Slip, slip.id).coal_kg == 1000


def test_api_calls_after_the_server_dropped_the_pool_succeed(api_as, kill_connections):
    supplier = api_as("coal-a")
    assert supplier.get("/api/v1/slips/TS21A-000001-0").status_code == 404  # the pool holds live connections now
    assert kill_connections() >= 1
    # The bearer token is looked up again (the first statement finds its connection gone and asks again).
    assert supplier.get("/api/v1/slips/TS21A-000001-0").status_code == 404
    assert kill_connections() >= 1
    found = supplier.post("/api/v1/registrations/lookup", json={"id_number": "110101199003074477"})
    assert found.status_code in (404, 422)  # not a 500: answered on a fresh connection


def test_a_connection_idle_for_a_while_is_pinged_and_replaced_before_a_read_uses_it(engine, demo, kill_connections,
                                                                                    monkeypatch):
    """Reads have no retry: a connection that sat idle (and may have been closed by a firewall or an idle-session
    timeout) is checked at checkout instead."""
    with db.new_session(engine) as s:
        s.execute(sa.select(1)).scalar()  # one pooled connection, now idle
    assert kill_connections() >= 1
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0)
    with db.new_session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Slip)).scalar() == 0


def test_without_the_idle_ping_that_read_would_fail(engine, demo, kill_connections, monkeypatch):
    """The previous test's counterpart: proves the connection really was dead, so the ping is what saved the read."""
    with db.new_session(engine) as s:
        s.execute(sa.select(1)).scalar()
    assert kill_connections() >= 1
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 10**9)
    with pytest.raises(sa.exc.OperationalError):
        with db.new_session(engine) as s:
            s.execute(sa.select(sa.func.count()).select_from(Slip)).scalar()
