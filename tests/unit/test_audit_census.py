"""Every action the code base writes to the audit log reads as a Chinese sentence: each `audit.record(...)` call of
subsidy/ names its action as a literal (or a choice between literals), and each such code is in
subsidy.core.audit_text.ACTIONS. A new action without its sentence fails here.

Read from the source (the AST), as tests/unit/test_architecture.py reads imports, so that an action written only on
a rare path is counted too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from subsidy.core.audit_text import ACTIONS

SUBSIDY = Path(__file__).resolve().parents[2] / "subsidy"


def _codes(node: ast.expr) -> list[str] | None:
    """The action codes an argument can be: a literal, or a conditional between literals; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _codes(node.body), _codes(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def _record_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"):
            yield node


def census() -> tuple[dict[str, list[str]], list[str]]:
    """{code: [where it is written]} and the calls whose action is not readable from the source."""
    written: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in sorted(SUBSIDY.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for call in _record_calls(tree):
            where = f"{path.relative_to(SUBSIDY.parent)}:{call.lineno}"
            action = call.args[2] if len(call.args) > 2 else next(
                (k.value for k in call.keywords if k.arg == "action"), None)
            codes = _codes(action) if action is not None else None
            if codes is None:
                unreadable.append(where)
                continue
            for code in codes:
                written.setdefault(code, []).append(where)
    return written, unreadable


WRITTEN, UNREADABLE = census()


def test_the_census_finds_the_audit_writes_of_every_area():
    assert {"household.registered", "registration.approved", "registration.rejected", "slip.issue",
            "summary.approved", "settlement.paid", "user.login", "contracts.guarantee_attached"} <= set(WRITTEN)
    assert len(WRITTEN) >= 50


def test_every_audit_write_names_its_action_as_a_literal():
    assert UNREADABLE == []


def test_every_action_written_has_a_chinese_sentence():
    missing = {code: where for code, where in WRITTEN.items() if code not in ACTIONS}
    assert missing == {}


def test_every_registered_action_is_written_somewhere():
    """No sentence for an action nobody writes (a renamed code would leave its old sentence behind)."""
    assert sorted(set(ACTIONS) - set(WRITTEN)) == []


def test_each_action_has_a_chinese_name_and_predicate():
    for code, action in ACTIONS.items():
        assert action.name and action.predicate, code
        assert not any(c.isascii() and c.isalpha() for c in action.name), code
        assert code not in action.predicate


def test_the_census_reads_conditionals_and_refuses_computed_codes():
    def codes(src: str):
        return _codes(ast.parse(src, mode="eval").body)

    assert codes('"a.b" if x else "a.c"') == ["a.b", "a.c"]
    assert codes('f"registration.{status}"') is None
    assert codes("name") is None
