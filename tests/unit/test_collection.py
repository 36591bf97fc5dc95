"""The collection check of tests/conftest.py: a test function imported into another test module would be collected
there a second time (and run twice); collection fails saying where, and importing the module instead is fine."""

from __future__ import annotations

pytest_plugins = ["pytester"]

CONFTEST = "from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n"
DEFINED = "def test_defined_here():\n    assert True\n"


def test_a_test_function_imported_into_another_module_fails_collection(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_origin=DEFINED,
                        test_borrower="from test_origin import test_defined_here  # noqa: F401\n")
    result = pytester.runpytest("--collect-only", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*collected from a module that merely imported them*",
                                 "*test_borrower.py: test_defined_here (defined in test_origin)*"])


def test_importing_the_module_instead_collects_each_test_once(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_origin=DEFINED,
                        test_borrower="import test_origin as origin\n\n\n"
                                      "def test_uses_it():\n    assert origin.test_defined_here is not None\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
