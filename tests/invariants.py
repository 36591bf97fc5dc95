"""What must hold in any database the sales have written to, however they were interrupted (a crash, a backup taken
mid-load): every slip whole (its lines add up to its totals), every registration's sold quantities the sums of its
issued slips and within what it may buy, slip numbers gapless per supplier and season, one audit entry per slip, and
the audit chain intact. `sales_problems(engine)` names each broken rule with a few examples; {} when all hold."""

from __future__ import annotations

import sqlalchemy as sa

from subsidy.core import audit

_RULES = {
    "slip without lines": """
        SELECT s.number FROM slip s WHERE NOT EXISTS (SELECT 1 FROM slip_line l WHERE l.slip_id = s.id)""",
    "slip totals not the sum of its lines": """
        SELECT s.number FROM slip s JOIN (
            SELECT slip_id, sum(CASE WHEN product = 'stove' THEN 0 ELSE quantity END) AS kg,
                   sum(CASE WHEN product = 'stove' THEN quantity ELSE 0 END) AS stoves,
                   sum(amount_fen) AS amount, sum(subsidy_fen) AS subsidy
            FROM slip_line GROUP BY slip_id) l ON l.slip_id = s.id
        WHERE s.coal_kg <> l.kg OR s.stoves <> l.stoves OR s.amount_fen <> l.amount OR s.subsidy_fen <> l.subsidy""",
    "registration's sold quantities not the sums of its slips": """
        SELECT r.id FROM registration r LEFT JOIN (
            SELECT registration_id, sum(coal_kg) AS kg, sum(stoves) AS stoves FROM slip WHERE status = 'issued'
            GROUP BY registration_id) s ON s.registration_id = r.id
        WHERE r.sold_coal_kg <> coalesce(s.kg, 0) OR r.sold_stoves <> coalesce(s.stoves, 0)""",
    # (sold_coal_kg and sold_stoves themselves are held within the registration by check constraints)
    "registration oversold by its slips": """
        SELECT r.id FROM registration r JOIN (
            SELECT registration_id, sum(coal_kg) AS kg, sum(stoves) AS stoves FROM slip WHERE status = 'issued'
            GROUP BY registration_id) s ON s.registration_id = r.id
        WHERE s.kg > r.coal_kg OR s.stoves > r.stoves""",
    "gap in a supplier's slip numbers": """
        SELECT supplier_id FROM slip GROUP BY supplier_id, season_id HAVING count(*) <> max(seq) OR min(seq) <> 1""",
    "slips and their audit entries differ in number": """
        SELECT 1 WHERE (SELECT count(*) FROM slip)
                       <> (SELECT count(*) FROM audit_entry WHERE action = 'slip.issue')""",
}


def sales_problems(engine) -> dict[str, list]:
    problems = {}
    with engine.connect() as connection:
        for rule, query in _RULES.items():
            found = connection.execute(sa.text(query + " LIMIT 5")).scalars().all()
            if found:
                problems[rule] = found
    chain = audit.verify_database(engine)
    if not chain.ok:
        problems["audit chain broken"] = [chain.first_broken_id, chain.reason]
    return problems


def slip_numbers(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT number FROM slip")).scalars())
