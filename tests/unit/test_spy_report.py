"""scripts/spy_report.py: the shares the benchmarks' py-spy samples are read by (docs/benchmarks.md quotes them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "spy_report.py"
spec = importlib.util.spec_from_file_location("spy_report", SCRIPT)
spy_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(spy_report)

STACKS = [
    "process 1:\"uvicorn\";run (asyncio/runners.py:118);handle (web/auth.py:92);_lookup (web/auth.py:60) 3\n",
    "process 1:\"uvicorn\";run (asyncio/runners.py:118);handle (web/auth.py:95) 5\n",
    # recursion: a function twice on one stack counts once; another line of the same function is the same function
    "process 1:\"uvicorn\";walk (x.py:1);walk (x.py:2) 2\n",
    "not a sample line\n",
    "\n",
]


def test_inclusive_and_own_shares_by_function_whatever_the_line():
    total, inclusive, own = spy_report.shares(STACKS)
    assert total == 10
    assert inclusive["handle (web/auth.py)"] == 8  # on lines 92 and 95: one function
    assert own["handle (web/auth.py)"] == 5 and own["_lookup (web/auth.py)"] == 3
    assert inclusive["run (asyncio/runners.py)"] == 8
    assert inclusive["walk (x.py)"] == 2 and own["walk (x.py)"] == 2


def test_under_keeps_the_stacks_through_one_frame():
    total, inclusive, own = spy_report.shares(STACKS, under="_lookup")
    assert total == 3
    assert inclusive["handle (web/auth.py)"] == 3 and "walk (x.py)" not in inclusive
