"""The README a newcomer reads first (issue 14, item 13) says what is true of this repository: its links resolve to
files inside it (no link leads outside), the walk-through's district is the demo's (which village in which town,
which supplier serves which town, 0 notice days), the commands it names exist (make targets, `subsidy` commands,
HOST and PORT), the reset it describes deletes the database file the app uses, the benchmark internals live in
docs/, and the screenshots folder it names is there and lists what the browser tests write."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from pathlib import Path

import pytest

from subsidy import demo
from subsidy.core import settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    following = README.find("\n## ", start + 1)
    return README[start:following if following > 0 else None]


def _code() -> list[str]:
    """Every inline code span and fenced block of the README."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README, re.S)
    rest = re.sub(r"```.*?```", "", README, flags=re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


@pytest.mark.parametrize("document", ["README.md", "docs/tests.md", "docs/screenshots/README.md"])
def test_every_link_resolves_inside_the_repository(document):
    path = ROOT / document
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert document != "README.md" or len(links) >= 3
    for target in links:
        assert not re.match(r"[a-z]+:", target), f"{document} links outside the repository: {target}"
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{document}: {target} does not resolve"
    # Addresses in the text are the local server's only.
    for address in re.findall(r"https?://[^\s`)>]+", text):
        assert re.match(r"https?://(127\.0\.0\.1|localhost|0\.0\.0\.0)[:/]", address), (document, address)


def test_the_walk_through_table_is_the_demo_district():
    walk = _section("A first walk through the demo")
    rows = [line for line in walk.splitlines() if line.startswith("| ") and "---" not in line][1:]
    villages = {code: (name, town) for code, name, town, _ in demo.VILLAGES}
    towns = {code: name for code, name, _ in demo.TOWNS}
    contracted = {code for code, _, target in demo.TOWNS if target}  # demo.load: a contract in each target town
    suppliers = [code for code, *_ in demo.SUPPLIERS]
    seen_towns, seen_villages = set(), set()
    for row in rows:
        town_cell, village_cell, _targets, supplier_cell = [cell.strip() for cell in row.strip("|").split("|")]
        row_towns = re.findall(r"`([a-z-]+)`", town_cell)
        row_villages = re.findall(r"`([a-z-]+)`", village_cell)
        assert row_towns and row_villages, row
        for town in row_towns:
            assert towns[town] in town_cell, (town, row)
            offered = re.findall(r"`([a-z-]+)`", supplier_cell)
            assert offered == (suppliers if town in contracted else []), row
        for village in row_villages:
            name, town = villages[village]
            assert name in village_cell or len(row_towns) > 1, (village, row)  # a grouped row names users only
            assert town in row_towns, f"{village} is in {town}, not in {row_towns}"
        seen_towns |= set(row_towns)
        seen_villages |= set(row_villages)
    assert seen_towns == set(towns) and seen_villages == set(villages)
    # The demo's policy: 0 notice days, and the walk-through says so.
    assert "**0 notice days**" in walk and "notice_days=0" in inspect.getsource(demo.load)
    # Every login it tells the newcomer to use is a demo person.
    for username in re.findall(r"Log in as `([a-z0-9-]+)`", walk):
        assert username in demo.PEOPLE, username


def test_the_walk_through_names_menu_items_that_exist():
    from web.templating import MENU_GROUPS, NAV

    labels = {path: label for label, path, _ in NAV}
    items = {(group, labels[path]) for group, paths in MENU_GROUPS for path in paths}
    named = re.findall(r"(登记|销售|结算|报表|监督|系统) › ([^ ，,;；（(]+)", _section("A first walk through the demo"))
    assert len(named) >= 4
    for group, label in named:
        assert (group, label) in items, (group, label)


def test_the_make_targets_host_port_and_reset_exist():
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    named = set(re.findall(r"\bmake ([a-z]+)\b", README))
    assert {"run", "test", "bench", "clean"} <= named <= targets, named - targets
    assert "make run HOST=0.0.0.0 PORT=8080" in README
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", MAKEFILE, re.M) and re.search(r"^PORT \?= 8000$", MAKEFILE, re.M)
    assert "--host $(HOST) --port $(PORT)" in MAKEFILE
    # The reset deletes the very file `make run` serves.
    assert "rm data/subsidy.db && make run" in README
    assert settings.DEFAULT_DATABASE_URL == "sqlite:///data/subsidy.db"
    assert "**Reset the demo:**" in README


def _help(words: list[str]) -> str:
    from subsidy import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        cli.main([*words, "--help"])
    assert done.value.code == 0, words
    return out.getvalue()


def test_every_subsidy_command_the_readme_names_exists():
    commands = set()
    for code in _code():
        for first, second in re.findall(r"(?<![\w/.-])subsidy ([a-z]+)(?: ([a-z]+)\b)?", code):
            commands.add((first, second))
    assert ("db", "upgrade") in commands and ("demo", "") in commands and len(commands) >= 10
    for first, second in sorted(commands):
        text = _help([first])
        choices = re.search(r"\{([a-z,-]+)\}", text)
        if second and choices:
            assert second in choices.group(1).split(","), f"subsidy {first} {second}"


def test_benchmark_internals_are_in_docs_not_in_the_readme():
    bench = _section("Benchmarks")
    assert "[docs/benchmarks.md](docs/benchmarks.md)" in bench
    assert "pgbench" not in bench and not re.search(r"\b[0-9a-f]{7}\b", bench)  # no commits, no load runs
    assert len(bench) < 1200


def test_the_screenshots_folder_the_readme_names_exists_and_lists_what_the_browser_tests_write():
    assert "SUBSIDY_SCREENSHOTS=docs/screenshots" in README and "(docs/screenshots/README.md)" in README
    listing = (SCREENSHOTS / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9-]+)\.png` \|", listing, re.M))
    browser_tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "browser").glob("test_*.py"))
    written = set(re.findall(r"""shot\(\w+, "([a-z0-9-]+)"[,)]""", browser_tests))
    assert listed <= written, f"listed but written by no browser test: {listed - written}"
    assert written <= listed, f"written but not listed in docs/screenshots/README.md: {written - listed}"
    # What the issue asked a reviewer to see: the counter, the print page in both layouts, the audit log, progress.
    for name in ("counter-preview", "slip-print-copies", "slip-print-continuous", "audit-log", "reports-progress"):
        assert name in listed, name
