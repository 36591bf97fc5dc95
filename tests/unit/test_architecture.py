"""The layout holds: subsidy/ knows nothing of HTTP, its modules import each other without a cycle, and each area
imports only the areas its package docstring allows.

Read from the source (the AST of every module, imports inside functions included), not by importing it: a function-
level import is an import all the same, only later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUBSIDY = Path(__file__).resolve().parents[2] / "subsidy"

# What each area of subsidy/ may import besides itself, as its package's __init__ docstring says (models, whose
# docstring is about its tables, stands on the clock, the vault and the address's normal form alone). `cli` and `demo` are the entry points: they may import
# any area, and no area imports them. A module name allows that module and everything under it.
ALLOWED = {
    "rules": {"subsidy.core.errors"},
    "models": {"subsidy.core.clock", "subsidy.core.vault", "subsidy.rules.addresses"},
    "core": {"subsidy.rules", "subsidy.models"},
    "accounts": {"subsidy.rules", "subsidy.core", "subsidy.models"},
    "policy": {"subsidy.rules", "subsidy.core", "subsidy.models"},
    "registry": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.models"},
    "supply": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.models"},
    "sales": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.registry", "subsidy.supply",
              "subsidy.settlement.summaries", "subsidy.models"},
    "settlement": {"subsidy.rules", "subsidy.core", "subsidy.accounts", "subsidy.policy", "subsidy.models"},
    "oversight": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.models"},
    "delivery": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.supply", "subsidy.sales",
                 "subsidy.models"},
    "verification": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.settlement", "subsidy.oversight",
                     "subsidy.models"},
    "quality": {"subsidy.rules", "subsidy.core", "subsidy.policy", "subsidy.supply", "subsidy.oversight",
                "subsidy.models"},
    "reports": {"subsidy.rules", "subsidy.core", "subsidy.accounts", "subsidy.policy", "subsidy.registry",
                "subsidy.supply", "subsidy.sales", "subsidy.settlement", "subsidy.oversight", "subsidy.verification", "subsidy.quality",
                "subsidy.delivery", "subsidy.models"},
    "cli": {"subsidy"},
    "demo": {"subsidy"},
}

# Imports that break the rules today, each being removed by the area that owns it. They are left out of the checks
# below, and each has a strict xfail of its own: when the import goes, that test passes, and strict makes the pass
# fail until the entry is deleted here.
KNOWN_VIOLATIONS = {
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SUBSIDY.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SUBSIDY.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Every module `name` imports, anywhere in its source: `from a.b import c` names a.b.c when that is a module
    of subsidy (`from subsidy.supply import batches`), a.b otherwise (`from subsidy.models import Slip`)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


IMPORTS = {name: _imports(name) for name in MODULES}


def _area(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


def _within(module: str, allowed: str) -> bool:
    return module == allowed or module.startswith(allowed + ".")


def _edges_of_subsidy() -> dict[str, set[str]]:
    return {name: {target for target in targets
                   if target in MODULES and target != name and (name, target) not in KNOWN_VIOLATIONS}
            for name, targets in IMPORTS.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each a cycle or several."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checks_read_every_module_of_subsidy():
    assert {"subsidy.sales.issuing", "subsidy.rules.money", "subsidy.models", "subsidy.cli"} <= set(MODULES)
    assert "subsidy.core.db" in IMPORTS["subsidy.core.audit"]  # an import inside a function (seal_pending) counts


def test_the_cycle_finder_finds_a_cycle_through_an_import_inside_a_function():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_subsidy_imports_the_web_layer():
    offenders = {name: sorted(t for t in targets if _within(t, "web")) for name, targets in IMPORTS.items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_module_of_subsidy_imports_litestar():
    offenders = {name: sorted(t for t in targets if _within(t, "litestar")) for name, targets in IMPORTS.items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_modules_of_subsidy_import_each_other_without_a_cycle():
    assert _cycles(_edges_of_subsidy()) == []


def test_every_area_of_subsidy_is_in_the_matrix():
    assert {_area(name) for name in MODULES} - {""} == set(ALLOWED)


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_each_area_imports_only_the_areas_its_docstring_allows(area):
    allowed = ALLOWED[area] | {f"subsidy.{area}"}
    refused = {f"{name} imports {target}"
               for name, targets in _edges_of_subsidy().items() if _area(name) == area
               for target in targets if not any(_within(target, a) for a in allowed)}
    assert sorted(refused) == []


def test_each_known_violation_is_one_the_matrix_refuses():
    allowed_after_all = [(importer, imported) for importer, imported in KNOWN_VIOLATIONS
                         if any(_within(imported, allowed) for allowed in ALLOWED[_area(importer)])]
    assert allowed_after_all == []


@pytest.mark.parametrize("importer, imported", [
    pytest.param(importer, imported, marks=pytest.mark.xfail(strict=True, reason=reason),
                 id=f"{importer}->{imported}")
    for (importer, imported), reason in KNOWN_VIOLATIONS.items()
])
def test_a_known_violation_has_been_removed(importer, imported):
    assert imported not in IMPORTS[importer]
