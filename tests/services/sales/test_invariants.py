"""The checks the backup and crash tests rely on (tests/invariants.py) find each kind of damage, so those tests can
fail."""

from __future__ import annotations

from sqlalchemy import text

from subsidy.core import audit, db
from subsidy.sales import issuing
from tests.factories import sales as f
from tests.invariants import _RULES, sales_problems


def test_the_sales_invariants_name_every_rule_a_damaged_database_breaks(engine, session, demo):
    household, registration = f.household(session, "dongguan", coal_kg=3000)
    clerk = f.user(session, "coal-a")
    card = household.id_number
    session.commit()
    for _ in range(3):
        db.run_in_transaction(session, lambda: issuing.issue(session, clerk=clerk, registration_id=registration.id,
                                                             id_number=card, lines=[issuing.LineIn("briquette", 500)]))
    assert sales_problems(engine) == {}
    audit.seal_pending(engine)  # a sealed entry's removal shows; an unsealed one's cannot (subsidy/core/audit.py)

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # past the audit log's triggers, as a database administrator could
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("DELETE FROM slip_line WHERE slip_id = (SELECT id FROM slip WHERE seq = 2)"))
        # Its lines still say 500 kg, the registration still says 1,500 kg sold of 3,000.
        connection.execute(text("UPDATE slip SET coal_kg = 2600 WHERE seq = 3"))
        connection.execute(text("UPDATE slip SET seq = 7 WHERE seq = 1"))
        connection.execute(text("DELETE FROM audit_entry WHERE id = (SELECT max(id) FROM audit_entry)"))
    assert set(sales_problems(engine)) == set(_RULES) | {"audit chain broken"}
