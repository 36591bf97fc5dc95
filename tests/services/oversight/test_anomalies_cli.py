"""`subsidy anomalies run`, the nightly command (both backends): exit code 0 with a line per rule, the flags written
and committed, a second run idempotent (no new flag, a dismissed one staying dismissed), `--rule` running only the
rules named, an unknown rule refused with exit code 2, and no active season answered with exit code 1."""

from __future__ import annotations

from sqlalchemy import func, select, update

from subsidy import cli
from subsidy.core import db
from subsidy.models import AnomalyFlag, AuditEntry, Season
from subsidy.oversight import anomalies
from tests.factories import oversight as o
from tests.factories import sales as f

PHONE = "13955556666"


def _plant(engine) -> list[int]:
    """Three households on one phone (a shared_phone flag to be): their ids."""
    with db.transaction(engine) as s:
        return [h.id for h in o.households(s, 3, phone=PHONE)]


def _flags(engine) -> list[AnomalyFlag]:
    with db.new_session(engine) as s:
        return list(s.execute(select(AnomalyFlag).order_by(AnomalyFlag.id)).scalars())


def _lines(out: str) -> dict[str, str]:
    return {line.split(":")[0]: line for line in out.strip().splitlines()}


def _planted(engine, ids) -> list[AnomalyFlag]:
    return [x for x in _flags(engine) if x.rule == "shared_phone" and set(ids) & set(anomalies.member_ids(x))]


def test_the_command_writes_the_flags_and_a_second_run_adds_none(engine, demo, capsys):
    ids = _plant(engine)
    assert cli.main(["anomalies", "run"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert set(lines) == set(anomalies.RULES)
    assert lines["shared_phone"] == "shared_phone: 1 new flag(s), 1 open"
    [flag] = _planted(engine, ids)
    assert flag.status == "open" and anomalies.member_ids(flag) == sorted(ids)
    before = [(x.id, x.rule, x.fingerprint, x.status) for x in _flags(engine)]
    assert before  # committed: read from a session of its own

    assert cli.main(["anomalies", "run"]) == 0
    again = _lines(capsys.readouterr().out)
    assert all(" 0 new flag(s)" in line for line in again.values())
    assert again["shared_phone"] == "shared_phone: 0 new flag(s), 1 open"
    assert [(x.id, x.rule, x.fingerprint, x.status) for x in _flags(engine)] == before
    with db.new_session(engine) as s:
        runs = s.execute(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "anomaly.run", AuditEntry.username == "system")).scalar_one()
    assert runs == 2


def test_a_flag_dismissed_between_two_nights_stays_dismissed(engine, demo, capsys):
    ids = _plant(engine)
    assert cli.main(["anomalies", "run"]) == 0
    [flag] = _planted(engine, ids)
    with db.transaction(engine) as s:
        anomalies.dismiss(s, f.user(s, "drc"), flag.id, reason="一家三代同住，共用一部电话")
    capsys.readouterr()
    assert cli.main(["anomalies", "run"]) == 0
    assert _lines(capsys.readouterr().out)["shared_phone"] == "shared_phone: 0 new flag(s), 0 open"
    [same] = _planted(engine, ids)
    assert (same.id, same.status) == (flag.id, "dismissed")


def test_rule_runs_only_the_rules_named(engine, demo, capsys):
    _plant(engine)
    assert cli.main(["anomalies", "run", "--rule", "shared_phone", "--rule", "burst"]) == 0
    assert set(_lines(capsys.readouterr().out)) == {"shared_phone", "burst"}
    assert {x.rule for x in _flags(engine)} <= {"shared_phone", "burst"}


def test_an_unknown_rule_is_refused_with_exit_code_2_and_nothing_runs(engine, demo, capsys):
    _plant(engine)
    assert cli.main(["anomalies", "run", "--rule", "shared_moon"]) == 2
    captured = capsys.readouterr()
    assert "unknown rule(s): shared_moon" in captured.err and "shared_phone" in captured.err and not captured.out
    assert _flags(engine) == []


def test_without_an_active_season_the_command_says_so_with_exit_code_1(engine, demo, capsys):
    _plant(engine)
    with db.transaction(engine) as s:
        s.execute(update(Season).values(is_active=False))
    assert cli.main(["anomalies", "run"]) == 1
    assert "no active season" in capsys.readouterr().err
    assert _flags(engine) == []
